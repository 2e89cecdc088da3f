"""Byte-level shard files: deterministic writers and lazy, non-pickling readers for both formats."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from saliency.errors import ChecksumError, SchemaError
from saliency.io import atomic_path, atomic_write
from saliency.shards.parquet_raw import chunk_locations, read_payload
from saliency.shards.schema import (
    NPZ_DATE_TIME,
    PARQUET_MAP_SCHEMA,
    RAW,
    U16_CODEC,
    U16_NIBBLES_CODEC,
    U16_PLANES_CODEC,
)
from saliency.shards.u16codec import QuantizedMap, decode_u16


def array_sha256(arr: np.ndarray) -> str:
    """SHA-256 of an array's C-order little-endian bytes (the ``map_sha256`` of raw and planes-coded maps)."""
    a = np.ascontiguousarray(arr)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(memoryview(a).cast("B")).hexdigest()


def map_sha256(stored: np.ndarray | QuantizedMap) -> str:
    """The ``map_sha256`` a map is written with: of the coded bytes for :data:`U16_CODEC` (they determine
    q; hashing them is 10× less work), else of the array."""
    return hashlib.sha256(stored.data).hexdigest() if isinstance(stored, QuantizedMap) else array_sha256(stored)


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
    """A lazily opened shard: :meth:`get` reads one map; never unpickles (``allow_pickle=False``). Safe to
    read from several threads."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._lock = threading.Lock()  # one read of the file at a time; checking and decoding run outside it
        try:
            if fmt == "npz":
                self._npz = np.load(path, allow_pickle=False)
            else:
                self._pq = pq.ParquetFile(path, pre_buffer=False)  # no read-ahead tasks on the IO thread pool
                self._coded = "encoding" in self._pq.schema_arrow.names  # schema 1 files: raw bytes only
                # the columns a map read needs besides the bytes (the key/stimulus strings are not read again)
                self._columns = ["height", "width", "dtype"] + (["encoding", "scale"] if self._coded else [])
                small = self._pq.read(columns=["key", *self._columns]).to_pydict()
                self._rows = {k: i for i, k in enumerate(small["key"])}
                self._small = [dict(zip(self._columns, v, strict=True))
                               for v in zip(*(small[c] for c in self._columns), strict=True)]
                # the map bytes by one pread where the file has the writer's plain layout (else pyarrow)
                self._chunks = chunk_locations(self._pq, "data")
                self._file = open(path, "rb") if self._chunks is not None else None   # closed by close() or GC
        except FileNotFoundError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, ArrowInvalid, ValueError ...
            raise ChecksumError(f"{path}: shard cannot be opened ({type(exc).__name__}: {exc}); "
                                "it is corrupt or truncated: run `saliency verify` and rebuild") from exc

    def get(self, key: str, sha256: str | None = None) -> np.ndarray:
        """The stored array of map ``key`` (decoded; uint16 maps come back as uint16); see :meth:`read`."""
        return self.read(key, sha256)[0]

    def read(self, key: str, sha256: str | None = None) -> tuple[np.ndarray, float | None]:
        """(stored array, scale): scale is the sum-1 density's value at the peak (None where not stored:
        NPZ shards and schema-1 Parquet shards). ``sha256``: the map's ``map_sha256``, checked (of the coded
        bytes for :data:`U16_CODEC` and :data:`U16_NIBBLES_CODEC`, before decoding; else of the array) — a mismatch is a ChecksumError."""
        try:
            if self.fmt == "npz":
                with self._lock:
                    arr, scale = self._npz[key], None
            else:
                row = self._rows[key]
                t = dict(self._small[row])
                file, chunks, data = self._file, self._chunks, None
                if chunks is not None and file is not None:
                    try:
                        data = read_payload(file.fileno(), chunks[row])
                    except (OSError, ValueError):      # closed meanwhile: read through pyarrow below
                        data = None
                if data is None:
                    with self._lock:
                        data = self._pq.read_row_group(row, columns=["data"], use_threads=False).column(0)[0].as_py()
                t["data"] = data
                enc = t["encoding"] if self._coded else RAW
                scale = t["scale"] if self._coded else None
                if enc in (U16_CODEC, U16_NIBBLES_CODEC):  # map_sha256 of the coded bytes
                    if sha256 is not None and hashlib.sha256(t["data"]).hexdigest() != sha256:
                        raise ChecksumError(f"{self.path}: map {key!r} does not match its map_sha256; "
                                            "the shard is corrupt")
                    return decode_u16(t["data"], t["height"], t["width"], enc), scale
                if enc == U16_PLANES_CODEC:
                    arr = decode_u16(t["data"], t["height"], t["width"], enc)
                elif enc == RAW:
                    arr = np.frombuffer(t["data"], dtype=np.dtype(t["dtype"])).reshape(t["height"], t["width"])
                else:
                    raise SchemaError(f"{self.path}: map {key!r} has encoding {enc!r}, which this saliency "
                                      "cannot read; rebuild the set with `saliency maps ... --rebuild`")
        except KeyError as exc:
            raise SchemaError(f"{self.path}: no map with key {key!r}") from exc
        except (SchemaError, ChecksumError):
            raise
        except Exception as exc:
            raise ChecksumError(f"{self.path}: map {key!r} cannot be read, the shard is corrupt "
                                  f"({type(exc).__name__}: {exc})") from exc
        if sha256 is not None and array_sha256(arr) != sha256:
            raise ChecksumError(f"{self.path}: map {key!r} does not match its map_sha256; the shard is corrupt")
        return arr, scale

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()

    def close(self) -> None:
        if self.fmt == "npz":
            self._npz.close()
        elif self._file is not None:
            self._file.close()
            self._file, self._chunks = None, None
