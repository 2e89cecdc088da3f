"""On-disk layout and schema of a shard set (``outputs/<dataset>/shards``), version :data:`SCHEMA_VERSION`.

::

    shards/
      meta.json            commit point: dataset, σ (px and dva), options, dtype, format, schema_version,
                           stored normalisation, shard table {name: sha256, bytes, n_maps},
                           sha256 of manifest.parquet and fixations.parquet
      manifest.parquet     one row per stimulus (MANIFEST_SCHEMA), sorted by stimulus
      fixations.parquet    the FixationTable the maps were built from (all rows, before the selection
                           options.selection / drop_first; ShardSet.fixations applies it)
      maps/00000.npz       up to shard_size maps each: uncompressed deterministic NPZ, entry "<key>.npy",
                           or maps/00000.parquet (``--format parquet``: one row group per map,
                           columns key, stimulus, height, width, dtype, data = raw little-endian bytes)
      maps/00000.json      sidecar of each shard: build fingerprint, file sha256, its manifest rows
                           (what resume checks; finalisation assembles the manifest from these)

Stored maps are peak-normalised (max = 1, ``stored_normalization = "max"``) in the chosen dtype, so that
float16 keeps its relative precision; :meth:`ShardSet.density` returns them rescaled to sum 1 in float32.
``map_sha256`` is the SHA-256 of the stored array's C-order little-endian bytes.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1
META_FILE = "meta.json"
MANIFEST_FILE = "manifest.parquet"
FIXATIONS_FILE = "fixations.parquet"
MAPS_DIR = "maps"
FORMATS = ("npz", "parquet")
STORED_NORMALIZATION = "max"
NPZ_DATE_TIME = (1980, 1, 1, 0, 0, 0)

MANIFEST_SCHEMA = pa.schema([
    pa.field("stimulus", pa.string(), nullable=False),
    pa.field("image_path", pa.string(), nullable=False),
    pa.field("image_sha256", pa.string(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("width", pa.int32(), nullable=False),
    pa.field("n_fixations", pa.int32(), nullable=False),
    pa.field("n_observers", pa.int32(), nullable=False),
    pa.field("n_fixations_used", pa.int32(), nullable=False),
    pa.field("shard", pa.string(), nullable=False),
    pa.field("key", pa.string(), nullable=False),
    pa.field("map_sha256", pa.string(), nullable=False),
])
MANIFEST_COLUMNS = tuple(MANIFEST_SCHEMA.names)

PARQUET_MAP_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("stimulus", pa.string(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("width", pa.int32(), nullable=False),
    pa.field("dtype", pa.string(), nullable=False),
    pa.field("data", pa.binary(), nullable=False),
])


def shard_name(index: int) -> str:
    return f"{index:05d}"


def shard_file(name: str, fmt: str) -> str:
    return f"{MAPS_DIR}/{name}.{fmt}"


def sidecar_file(name: str) -> str:
    return f"{MAPS_DIR}/{name}.json"
