"""Byte-level shard files: deterministic writers and lazy, non-pickling readers for both formats."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from saliency.errors import ChecksumError, SchemaError
from saliency.io import atomic_path, atomic_write
from saliency.shards.schema import NPZ_DATE_TIME, PARQUET_MAP_SCHEMA, QUANT_LEVELS, RAW, U16_CODEC

ZSTD_LEVEL = 1  # zstd's fast end: 18-19x smaller than float32 on OSIE, ~2 ms per 800x600 map


def array_sha256(arr: np.ndarray) -> str:
    """SHA-256 of an array's C-order little-endian bytes (the ``map_sha256`` of the manifest)."""
    a = np.ascontiguousarray(arr)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(memoryview(a).cast("B")).hexdigest()


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


def _peak_and_total(m: np.ndarray, total: float | None) -> tuple[float, float]:
    """(max(m, 0), Σ max(m, 0)) of a finite C-contiguous float32/64 map (``total`` when given). The peak is
    the max of the bit patterns read as signed integers: ordered like the floats where ≥ 0, negative where
    the float is negative."""
    ints = np.int32 if m.dtype == np.float32 else np.int64
    top = _max_bits(m.reshape(-1).view(ints))
    peak = float(np.array(top, ints).view(m.dtype))
    return peak, _total(m) if total is None else total


@numba.njit(inline="always")
def _zigzag16(d: np.int32) -> np.int64:  # pragma: no cover - compiled
    """A difference of uint16 values (as int32) → mod 2¹⁶ as int16 → zigzag (0, −1, 1, −2 … → 0, 1, 2, 3 …)."""
    s = np.int64(np.int16(d))  # wraps mod 2¹⁶ (LLVM trunc), then sign-extends
    return ((s << 1) ^ (s >> 31)) & 0xFFFF


@numba.njit(cache=True, nogil=True)
def _quantize_planes(m: np.ndarray, scale: float, q: np.ndarray, planes: np.ndarray) -> None:  # pragma: no cover
    """q = round(clip(m · scale, 0, 65535)) (half up) and its byte planes (see quantize_map) into the given
    buffers; row by row, branch-free inner loops so that they vectorise."""
    h, w = m.shape
    n = h * w
    for i in range(h):
        qi, mi = q[i], m[i]
        for j in range(w):
            qi[j] = np.uint16(np.int32(min(max(mi[j] * scale, 0.0), 65535.0) + 0.5))
        lo, hi = planes[i * w:(i + 1) * w], planes[n + i * w:n + (i + 1) * w]
        qp = q[i - 1] if i > 0 else np.zeros(w, np.uint16)
        z = _zigzag16(np.int32(qi[0]) - np.int32(qp[0]))
        lo[0], hi[0] = z & 0xFF, z >> 8
        for j in range(1, w):
            z = _zigzag16(np.int32(qi[j]) - np.int32(qi[j - 1]) - np.int32(qp[j]) + np.int32(qp[j - 1]))
            lo[j], hi[j] = z & 0xFF, z >> 8


@numba.njit(cache=True, nogil=True)
def _from_planes(planes: np.ndarray, h: int, w: int) -> np.ndarray:  # pragma: no cover - compiled
    n = h * w
    q = np.empty((h, w), np.uint16)
    for i in range(h):
        for j in range(w):
            z = np.int64(planes[i * w + j]) | (np.int64(planes[n + i * w + j]) << 8)
            d = (z >> 1) ^ (-(z & 1))
            if j > 0:
                d += q[i, j - 1]
            if i > 0:
                d += q[i - 1, j]
                if j > 0:
                    d -= q[i - 1, j - 1]
            q[i, j] = d & 0xFFFF
    return q


@dataclass(frozen=True)
class QuantizedMap:
    """A map as the uint16 layout stores it: ``data`` the :data:`U16_CODEC` bytes of q = round(65535 · m /
    max m) (half up; negative rounding noise → 0), ``shape`` (H, W) of q, ``scale`` the sum-1 density's peak
    (``max m / Σ max(m, 0)``; 0 for an all-zero map), ``q`` the (H, W) uint16 array itself where kept."""

    data: bytes
    shape: tuple[int, int]
    scale: float
    q: np.ndarray | None = None


def encode_u16(m: np.ndarray, total: float | None, q: np.ndarray, planes: np.ndarray) -> tuple[bytes, float]:
    """(coded bytes, scale) of a finite float32/64 C-contiguous map ``m`` (see :func:`quantize_map`), writing
    q into ``q`` ((H, W) uint16) and the byte planes into ``planes`` ((2·H·W,) uint8): buffers reused
    between maps. Compiled passes and zstd release the GIL (maps can be coded on threads)."""
    peak, total = _peak_and_total(m, total)
    _quantize_planes(m, QUANT_LEVELS / peak if peak > 0 else 0.0, q, planes)
    data = pa.Codec("zstd", compression_level=ZSTD_LEVEL).compress(planes, asbytes=True)
    return data, peak / total if total > 0 else 0.0


def quantize_map(m: np.ndarray, total: float | None = None) -> QuantizedMap:
    """Quantise and encode a map ≥ 0 (float32/64, any scale, finite) in two passes; error ≤ 0.5/65535 of
    the peak. ``total``: ``Σ max(m, 0)`` when the caller knows it (the blur's analytic sum), else summed here.

    :data:`U16_CODEC`: 2-D first differences ``q[i,j] − q[i,j−1] − q[i−1,j] + q[i−1,j−1]`` mod 2¹⁶
    (outside the map counts as 0), zigzag (as int16: 0, −1, 1, −2 … → 0, 1, 2, 3 …), byte planes (all low
    bytes, then all high bytes), zstd level :data:`ZSTD_LEVEL`. Smooth maps give tiny differences, so the
    high-byte plane is nearly all zero and compresses well. Lossless on ``q``.
    """
    m = np.ascontiguousarray(m)
    if m.dtype not in (np.float32, np.float64):
        m = m.astype(np.float32)
    q = np.empty(m.shape, np.uint16)
    data, scale = encode_u16(m, total, q, np.empty(2 * m.size, np.uint8))
    return QuantizedMap(data, (int(m.shape[0]), int(m.shape[1])), scale, q)


def decode_u16(buf: bytes, height: int, width: int) -> np.ndarray:
    """Inverse of the coding in :func:`quantize_map`: a fresh (height, width) uint16 array."""
    n = int(height) * int(width)
    raw = pa.Codec("zstd").decompress(buf, decompressed_size=2 * n, asbytes=True)
    return _from_planes(np.frombuffer(raw, dtype=np.uint8), int(height), int(width))


def write_npz(path: Path, entries: Sequence[tuple[str, np.ndarray]]) -> None:
    """Atomically write an uncompressed NPZ whose bytes depend only on ``entries``.

    ``np.savez`` stamps each zip entry with the current time; here every entry gets the fixed
    date ``1980-01-01`` and fixed permissions, so re-runs are byte-identical. Readable by ``np.load``.
    """
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in entries:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=NPZ_DATE_TIME)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, buf.getvalue())


def write_parquet_maps(path: Path, entries: Sequence[tuple[str, str, np.ndarray | QuantizedMap, float]]) -> None:
    """Atomically write maps as Parquet, one row group per map (``entries``: key, stimulus, map, scale).

    A :class:`QuantizedMap` is stored as its coded bytes (``encoding`` :data:`U16_CODEC`, its own scale), a
    float array as raw little-endian bytes (``encoding`` ``raw``; ``scale``: the sum-1 density's peak).
    """
    cols: dict[str, list] = {name: [] for name in PARQUET_MAP_SCHEMA.names}
    for key, stimulus, arr, scale in entries:
        if isinstance(arr, QuantizedMap):
            shape, dtype, enc, data, scale = arr.shape, "<u2", U16_CODEC, arr.data, arr.scale
        else:
            a = np.ascontiguousarray(arr)
            a = a.astype(a.dtype.newbyteorder("<"), copy=False)
            shape, dtype, enc, data = a.shape, a.dtype.str, RAW, a.tobytes()
        for name, v in zip(PARQUET_MAP_SCHEMA.names, (key, stimulus, shape[0], shape[1], dtype, data, enc, scale),
                           strict=True):
            cols[name].append(v)
    table = pa.table(cols, schema=PARQUET_MAP_SCHEMA)
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, PARQUET_MAP_SCHEMA, compression="none",
                                                    use_dictionary=False, write_statistics=False) as w:
        w.write_table(table, row_group_size=1)


class ShardFile:
    """A lazily opened shard: :meth:`get` reads one map; never unpickles (``allow_pickle=False``)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        try:
            if fmt == "npz":
                self._npz = np.load(path, allow_pickle=False)
            else:
                self._pq = pq.ParquetFile(path)
                keys = self._pq.read(columns=["key"]).column("key").to_pylist()
                self._rows = {k: i for i, k in enumerate(keys)}
                self._coded = "encoding" in self._pq.schema_arrow.names  # schema 1 files: raw bytes only
        except FileNotFoundError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, ArrowInvalid, ValueError ...
            raise ChecksumError(f"{path}: shard cannot be opened ({type(exc).__name__}: {exc}); "
                                "it is corrupt or truncated: run `saliency verify` and rebuild") from exc

    def get(self, key: str) -> np.ndarray:
        """The stored array of map ``key`` (decoded; uint16 maps come back as uint16)."""
        return self.read(key)[0]

    def read(self, key: str) -> tuple[np.ndarray, float | None]:
        """(stored array, scale): scale is the sum-1 density's value at the peak (None where not stored:
        NPZ shards and schema-1 Parquet shards)."""
        try:
            if self.fmt == "npz":
                return self._npz[key], None
            if key not in self._rows:
                raise KeyError(key)
            t = self._pq.read_row_group(self._rows[key]).to_pylist()[0]
            enc = t["encoding"] if self._coded else RAW
            scale = t["scale"] if self._coded else None
            if enc == U16_CODEC:
                return decode_u16(t["data"], t["height"], t["width"]), scale
            if enc != RAW:
                raise SchemaError(f"{self.path}: map {key!r} has encoding {enc!r}, which this saliency cannot "
                                  "read; rebuild the set with `saliency maps ... --rebuild`")
            arr = np.frombuffer(t["data"], dtype=np.dtype(t["dtype"])).reshape(t["height"], t["width"])
            return arr, scale
        except KeyError as exc:
            raise SchemaError(f"{self.path}: no map with key {key!r}") from exc
        except SchemaError:
            raise
        except Exception as exc:
            raise ChecksumError(f"{self.path}: map {key!r} cannot be read, the shard is corrupt "
                                  f"({type(exc).__name__}: {exc})") from exc

    def close(self) -> None:
        if self.fmt == "npz":
            self._npz.close()
