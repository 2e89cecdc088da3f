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
def _peak_and_total(m: np.ndarray) -> tuple[float, float]:  # pragma: no cover - compiled
    peak, total = 0.0, 0.0
    for v in m.ravel():
        if v > 0.0:
            total += v
            if v > peak:
                peak = v
    return peak, total


@numba.njit(cache=True, nogil=True)
def _quantize_planes(m: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """One pass: q = round(clip(m · scale, 0, 65535)) (half up) and its byte planes (see quantize_map)."""
    h, w = m.shape
    n = h * w
    q = np.empty((h, w), np.uint16)
    planes = np.empty(2 * n, np.uint8)
    for i in range(h):
        for j in range(w):
            v = m[i, j] * scale
            v = 0.0 if v < 0.0 else (65535.0 if v > 65535.0 else v)
            qi = np.int64(v + 0.5)
            q[i, j] = qi
            d = qi
            if j > 0:
                d -= q[i, j - 1]
            if i > 0:
                d -= q[i - 1, j]
                if j > 0:
                    d += q[i - 1, j - 1]
            d &= 0xFFFF
            if d >= 32768:
                d -= 65536
            z = ((d << 1) ^ (d >> 15)) & 0xFFFF
            planes[i * w + j] = z & 0xFF
            planes[n + i * w + j] = z >> 8
    return q, planes


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
    """A map as the uint16 layout stores it: ``q`` (H, W) uint16 = round(65535 · m / max m) (half up; negative
    rounding noise → 0), ``data`` its :data:`U16_CODEC` bytes, ``scale`` the sum-1 density's peak
    (``max m / Σ max(m, 0)``; 0 for an all-zero map)."""

    q: np.ndarray
    data: bytes
    scale: float


def quantize_map(m: np.ndarray) -> QuantizedMap:
    """Quantise and encode a map ≥ 0 (float32/64, any scale) in two passes; error ≤ 0.5/65535 of the peak.

    :data:`U16_CODEC`: 2-D first differences ``q[i,j] − q[i,j−1] − q[i−1,j] + q[i−1,j−1]`` mod 2¹⁶
    (outside the map counts as 0), zigzag (as int16: 0, −1, 1, −2 … → 0, 1, 2, 3 …), byte planes (all low
    bytes, then all high bytes), zstd level :data:`ZSTD_LEVEL`. Smooth maps give tiny differences, so the
    high-byte plane is nearly all zero and compresses well. Lossless on ``q``.
    """
    m = np.ascontiguousarray(m)
    if m.dtype not in (np.float32, np.float64):
        m = m.astype(np.float32)
    peak, total = _peak_and_total(m)
    q, planes = _quantize_planes(m, QUANT_LEVELS / peak if peak > 0 else 0.0)
    data = pa.Codec("zstd", compression_level=ZSTD_LEVEL).compress(planes, asbytes=True)
    return QuantizedMap(q, data, peak / total if total > 0 else 0.0)


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
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, PARQUET_MAP_SCHEMA, compression="none",
                                                    use_dictionary=False, write_statistics=False) as w:
        for key, stimulus, arr, scale in entries:
            if isinstance(arr, QuantizedMap):
                shape, dtype, enc, data, scale = arr.q.shape, "<u2", U16_CODEC, arr.data, arr.scale
            else:
                a = np.ascontiguousarray(arr)
                a = a.astype(a.dtype.newbyteorder("<"), copy=False)
                shape, dtype, enc, data = a.shape, a.dtype.str, RAW, a.tobytes()
            w.write_table(pa.table({
                "key": [key], "stimulus": [stimulus], "height": pa.array([shape[0]], pa.int32()),
                "width": pa.array([shape[1]], pa.int32()), "dtype": [dtype], "data": [data],
                "encoding": [enc], "scale": pa.array([scale], pa.float64()),
            }, schema=PARQUET_MAP_SCHEMA))


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
