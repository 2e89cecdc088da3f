"""The uint16 map codecs: quantise a float map to its peak and code it losslessly (compiled, GIL released).

``q = round(65535 · m / max m)`` (half up; negative rounding noise → 0): error ≤ 0.5/65535 of the peak.
Every codec starts from the 2-D first differences ``D = q[i,j] − q[i,j−1] − q[i−1,j] + q[i−1,j−1]`` mod 2¹⁶
(outside the map counts as 0). The residual ``r`` coded is ``D`` itself (the nibble and planes codecs) or,
for :data:`U16_CODEC`, its difference with the row above, ``E = D[i,j] − D[i−1,j]`` mod 2¹⁶ (a third-order
difference: a sum of Gaussians is smooth enough that its mixed second difference changes slowly down a
column). ``r`` is read as int16 and zigzagged (0, −1, 1, −2 … → z = 0, 1, 2, 3 …). On OSIE (σ = 24 px) the
column residual has 62 % zeros and no value ≥ 15 (``D``: 56 % and 6 %), so zstd gets the same number of
nibble bytes but no escapes and finishes ≈ 1.6× faster, and the result is ≈ 25 % smaller.

:data:`U16_CODEC` (written) and :data:`U16_NIBBLES_CODEC` (written before; read): ``data`` = E (uint32 LE) ‖
zstd level :data:`ZSTD_LEVEL` of [N = ⌈H·W/2⌉ nibble bytes ‖ E escapes]. Pixel p (C order) has the nibble
``min(z_p, 15)``, the low nibble of byte p // 2 for even p, the high one for odd p; every pixel whose nibble
is 15 has an escape ``z_p − 15`` (uint16 LE), in pixel order. Their ``map_sha256`` is the SHA-256 of
``data`` (hashing ≈ 80 kB, not the 960 kB of q).

:data:`U16_PLANES_CODEC` (schema-2 sets written first; read only): zstd of the low bytes of all z, then
the high bytes; its ``map_sha256`` is the SHA-256 of the decoded q.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa

from saliency.shards.schema import QUANT_LEVELS, U16_CODEC, U16_NIBBLES_CODEC, U16_PLANES_CODEC

ZSTD_LEVEL = 1  # zstd's fast end
NIBBLE_MAX = 15
_HEADER = 4  # bytes of E


@numba.njit(cache=True, nogil=True)
def _max_bits(bits: np.ndarray) -> int:  # pragma: no cover - compiled
    """max(0, bits) of a 1-D signed integer array (a vectorised reduction, unlike a float max)."""
    top = bits.dtype.type(0)
    for b in bits:
        top = b if b > top else top
    return top


@numba.njit(cache=True, nogil=True)
def _total(m: np.ndarray) -> float:  # pragma: no cover - compiled
    """Σ max(m, 0) in float64 (in order)."""
    total = 0.0
    for v in m.ravel():
        if v > 0.0:
            total += v
    return total


@numba.njit(cache=True, nogil=True)
def _u16_sum(q: np.ndarray) -> int:  # pragma: no cover - compiled
    total = 0
    for i in range(q.size):
        total += np.int64(q[i])
    return total


def u16_total(q: np.ndarray) -> int:
    """Σ q of a uint16 array, exact (one vectorised compiled pass; numpy's widening sum is ≈ 5× slower)."""
    return int(_u16_sum(np.ascontiguousarray(q).reshape(-1)))


def _peak_and_total(m: np.ndarray, total: float | None, peak: float | None) -> tuple[float, float]:
    """(max(m, 0), Σ max(m, 0)) of a finite C-contiguous float32/64 map (``total``, ``peak`` when given).
    The peak is the max of the bit patterns read as signed integers: ordered like the floats where ≥ 0,
    negative where the float is negative."""
    if peak is None:
        ints = np.int32 if m.dtype == np.float32 else np.int64
        top = _max_bits(m.reshape(-1).view(ints))
        peak = float(np.array(top, ints).view(m.dtype))
    return peak, _total(m) if total is None else total


@numba.njit(inline="always")
def _zigzag16(d: np.int32) -> np.int64:  # pragma: no cover - compiled
    """A difference of uint16 values (as int32) → mod 2¹⁶ as int16 → zigzag (0, −1, 1, −2 … → 0, 1, 2, 3 …)."""
    s = np.int64(np.int16(d))  # wraps mod 2¹⁶ (LLVM trunc), then sign-extends
    return ((s << 1) ^ (s >> 31)) & 0xFFFF


@numba.njit(inline="always")
def _unzigzag(z: np.int64) -> np.int64:  # pragma: no cover - compiled
    return (z >> 1) ^ (-(z & 1))


@numba.njit(cache=True, nogil=True)
def _code_nibbles(m: np.ndarray, scale: float, q_prev: np.ndarray, q_row: np.ndarray, d_prev: np.ndarray,
                  z: np.ndarray, nib: np.ndarray, out: np.ndarray, column: bool) -> int:  # pragma: no cover
    """One pass, row by row: q = round(clip(m · scale, 0, 65535)) (half up), its 2-D differences D (minus the
    row above's D where ``column``: :data:`U16_CODEC`), zigzagged to z, their nibbles into ``out[:⌈n/2⌉]``
    and escapes after them (``out``: ≥ ⌈n/2⌉ + 2n bytes); returns the number of escapes. The quantising,
    differencing and nibble loops are branch-free so that they vectorise (nibble pairs via a uint16 view:
    little-endian); escapes are a branch, skipped for rows without any; odd widths take a per-pixel
    nibble path. ``d_prev``: int32 work row (the row above's D)."""
    h, w = m.shape
    nb = (h * w + 1) // 2
    q_prev[:] = 0
    d_prev[:] = 0
    e = 0
    for i in range(h):
        mi = m[i]
        for j in range(w):
            q_row[j] = np.uint16(np.int32(min(max(mi[j] * scale, 0.0), 65535.0) + 0.5))
        d = np.int32(q_row[0]) - np.int32(q_prev[0])
        z[0] = _zigzag16(d - d_prev[0])      # d_prev stays 0 unless ``column``
        if column:
            d_prev[0] = d
        for j in range(1, w):
            d = np.int32(q_row[j]) - np.int32(q_row[j - 1]) - np.int32(q_prev[j]) + np.int32(q_prev[j - 1])
            z[j] = _zigzag16(d - d_prev[j])
            if column:
                d_prev[j] = d
        if w % 2 == 0:
            for j in range(w):
                nib[j] = min(z[j], NIBBLE_MAX)
            pairs = nib[:w].view(np.uint16)  # little-endian: nibble 2k in the low byte, 2k + 1 in the high one
            dst = out[i * w // 2:(i + 1) * w // 2]
            for k in range(w // 2):
                dst[k] = (pairs[k] & 0x0F) | ((pairs[k] >> 4) & 0xF0)
        else:
            for j in range(w):
                p = i * w + j
                v = min(z[j], NIBBLE_MAX)
                if p & 1:
                    out[p >> 1] |= v << 4
                else:
                    out[p >> 1] = v
        top = 0
        for j in range(w):
            top = max(top, z[j])
        if top >= NIBBLE_MAX:
            for j in range(w):
                if z[j] >= NIBBLE_MAX:
                    v = z[j] - NIBBLE_MAX
                    out[nb + 2 * e] = v & 0xFF
                    out[nb + 2 * e + 1] = v >> 8
                    e += 1
        q_prev, q_row = q_row, q_prev
    return e


@numba.njit(cache=True, nogil=True)
def _from_nibbles(raw: np.ndarray, q: np.ndarray, column: bool) -> int:  # pragma: no cover - compiled
    """q (an (h, w) uint16 array, filled) from nibbles ‖ escapes (``raw``: ⌈n/2⌉ + 2E bytes; ``column``: the
    residual is D minus the row above's D); returns the number of escapes the nibbles call for (the caller
    checks it against E; −1 where they call for more than there are). Row by row, in uint16 arithmetic
    (everything is mod 2¹⁶, so wrapping is the arithmetic wanted), in passes that vectorise except the escapes (skipped for rows without any)
    and the row's prefix sum (one add per pixel, kept in a register)."""
    h, w = q.shape
    n = h * w
    nb = (n + 1) // 2
    n_esc = (raw.size - nb) // 2
    row = np.empty(w, np.uint16)
    d_prev = np.zeros(w, np.uint16)
    e = 0
    for i in range(h):
        top = np.uint16(0)
        if w % 2 == 0:
            half = w // 2
            src = raw[i * half:(i + 1) * half]
            for k in range(half):
                b = np.uint16(src[k])
                lo, hi = b & np.uint16(0xF), b >> np.uint16(4)
                row[2 * k] = lo
                row[2 * k + 1] = hi
                top = max(top, max(lo, hi))
        else:
            for j in range(w):
                p = i * w + j
                v = np.uint16((raw[p >> 1] >> ((p & 1) * 4)) & 0xF)
                row[j] = v
                top = max(top, v)
        if top == NIBBLE_MAX:
            for j in range(w):
                if row[j] == NIBBLE_MAX:
                    if e >= n_esc:
                        return -1
                    row[j] = np.uint16(NIBBLE_MAX + (np.int32(raw[nb + 2 * e]) | (np.int32(raw[nb + 2 * e + 1]) << 8)))
                    e += 1
        for j in range(w):  # unzigzag mod 2¹⁶
            r = row[j]
            row[j] = np.uint16((r >> np.uint16(1)) ^ np.uint16(np.uint16(0) - (r & np.uint16(1))))
        if column:  # D = E + D above
            for j in range(w):
                d = np.uint16(row[j] + d_prev[j])
                row[j] = d
                d_prev[j] = d
        s = np.uint16(0)
        for j in range(w):
            s = np.uint16(s + row[j])
            row[j] = s
        qi = q[i]
        if i == 0:
            for j in range(w):
                qi[j] = row[j]
        else:
            qp = q[i - 1]
            for j in range(w):
                qi[j] = np.uint16(qp[j] + row[j])
    return e


@numba.njit(cache=True, nogil=True)
def _from_planes(planes: np.ndarray, h: int, w: int) -> np.ndarray:  # pragma: no cover - compiled
    n = h * w
    q = np.empty((h, w), np.uint16)
    for i in range(h):
        for j in range(w):
            z = np.int64(planes[i * w + j]) | (np.int64(planes[n + i * w + j]) << 8)
            d = _unzigzag(z)
            if j > 0:
                d += q[i, j - 1]
            if i > 0:
                d += q[i - 1, j]
                if j > 0:
                    d -= q[i - 1, j - 1]
            q[i, j] = d & 0xFFFF
    return q


class U16Scratch:
    """Reusable work arrays for :func:`encode_u16` for one map size (one per thread)."""

    def __init__(self, height: int, width: int) -> None:
        n = height * width
        self.q_prev, self.q_row = np.empty(width, np.uint16), np.empty(width, np.uint16)
        self.d_prev = np.empty(width, np.int32)
        self.z, self.nib = np.empty(width, np.int32), np.empty(width + 1, np.uint8)
        self.payload = np.empty((n + 1) // 2 + 2 * n, np.uint8)


@dataclass(frozen=True)
class QuantizedMap:
    """A map as the uint16 layout stores it: ``data`` its :data:`U16_CODEC` bytes, ``shape`` (H, W),
    ``scale`` the sum-1 density's peak (``max m / Σ max(m, 0)``; 0 for an all-zero map)."""

    data: bytes
    shape: tuple[int, int]
    scale: float


def encode_u16(m: np.ndarray, total: float | None = None, scratch: U16Scratch | None = None,
               peak: float | None = None) -> QuantizedMap:
    """Quantise a finite float32/64 map ≥ 0 (any scale) to its peak and code it (:data:`U16_CODEC`).

    ``total``: ``Σ max(m, 0)`` when the caller knows it (the blur's analytic sum), else summed here;
    ``peak``: ``max(m, 0)`` when the caller knows it (the scatter blur takes it on the way), else found here.
    ``scratch``: work arrays of this size reused between maps. Lossless on q; error ≤ 0.5/65535 of the peak.
    """
    m = np.ascontiguousarray(m)
    if m.dtype not in (np.float32, np.float64):
        m = m.astype(np.float32)
    h, w = (int(s) for s in m.shape)
    s = scratch if scratch is not None else U16Scratch(h, w)
    peak, total = _peak_and_total(m, total, peak)
    body = s.payload
    n_esc = _code_nibbles(m, QUANT_LEVELS / peak if peak > 0 else 0.0, s.q_prev, s.q_row, s.d_prev, s.z, s.nib,
                          body, True)
    size = (h * w + 1) // 2 + 2 * n_esc
    coded = pa.Codec("zstd", compression_level=ZSTD_LEVEL).compress(body[:size])  # a pa.Buffer: no copy
    data = b"".join((int(n_esc).to_bytes(_HEADER, "little"), memoryview(coded)))
    return QuantizedMap(data, (h, w), peak / total if total > 0 else 0.0)


def decode_u16(buf: bytes, height: int, width: int, encoding: str = U16_CODEC) -> np.ndarray:
    """Inverse of :func:`encode_u16` (or of the older codecs): a fresh (height, width) uint16 array.
    Raises ValueError where the bytes are not a valid coding of that size."""
    h, w = int(height), int(width)
    n = h * w
    zstd = pa.Codec("zstd")
    if encoding == U16_PLANES_CODEC:
        raw = zstd.decompress(buf, decompressed_size=2 * n, asbytes=True)
        return _from_planes(np.frombuffer(raw, dtype=np.uint8), h, w)
    if encoding not in (U16_CODEC, U16_NIBBLES_CODEC):
        raise ValueError(f"not a uint16 codec: {encoding!r}")
    if len(buf) < _HEADER:
        raise ValueError("coded map shorter than its header")
    n_esc = int(np.frombuffer(buf[:_HEADER], "<u4")[0])
    if n_esc > n:
        raise ValueError(f"{n_esc} escapes for {n} pixels")
    try:
        raw = zstd.decompress(memoryview(buf)[_HEADER:], decompressed_size=(n + 1) // 2 + 2 * n_esc)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"zstd: {exc}") from exc
    q = np.empty((h, w), np.uint16)
    read = _from_nibbles(np.frombuffer(raw, np.uint8), q, encoding == U16_CODEC)
    if read != n_esc:
        raise ValueError(f"coded map has {n_esc} escapes, its nibbles call for {read}")
    return q
