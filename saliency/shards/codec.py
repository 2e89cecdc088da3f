"""Byte-level shard files: deterministic writers and lazy, non-pickling readers for both formats."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from saliency.errors import ChecksumError, SchemaError
from saliency.io import atomic_path, atomic_write
from saliency.shards.schema import NPZ_DATE_TIME, PARQUET_MAP_SCHEMA


def array_sha256(arr: np.ndarray) -> str:
    """SHA-256 of an array's C-order little-endian bytes (the ``map_sha256`` of the manifest)."""
    a = np.ascontiguousarray(arr)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(memoryview(a).cast("B")).hexdigest()


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


def write_parquet_maps(path: Path, entries: Sequence[tuple[str, str, np.ndarray]]) -> None:
    """Atomically write maps as Parquet, one row group per map (``entries``: key, stimulus, array)."""
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, PARQUET_MAP_SCHEMA, compression="none",
                                                    use_dictionary=False, write_statistics=False) as w:
        for key, stimulus, arr in entries:
            a = np.ascontiguousarray(arr)
            a = a.astype(a.dtype.newbyteorder("<"), copy=False)
            w.write_table(pa.table({
                "key": [key], "stimulus": [stimulus], "height": pa.array([a.shape[0]], pa.int32()),
                "width": pa.array([a.shape[1]], pa.int32()), "dtype": [a.dtype.str], "data": [a.tobytes()],
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
        except FileNotFoundError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, ArrowInvalid, ValueError ...
            raise ChecksumError(f"{path}: shard cannot be opened ({type(exc).__name__}: {exc}); "
                                "it is corrupt or truncated: run `saliency verify` and rebuild") from exc

    def get(self, key: str) -> np.ndarray:
        try:
            if self.fmt == "npz":
                return self._npz[key]
            if key not in self._rows:
                raise KeyError(key)
            t = self._pq.read_row_group(self._rows[key]).to_pylist()[0]
            return np.frombuffer(t["data"], dtype=np.dtype(t["dtype"])).reshape(t["height"], t["width"])
        except KeyError as exc:
            raise SchemaError(f"{self.path}: no map with key {key!r}") from exc
        except Exception as exc:
            raise ChecksumError(f"{self.path}: map {key!r} cannot be read, the shard is corrupt "
                                  f"({type(exc).__name__}: {exc})") from exc

    def close(self) -> None:
        if self.fmt == "npz":
            self._npz.close()
