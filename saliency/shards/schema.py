"""On-disk layout and schema of a shard set (``outputs/<dataset>/shards``), version :data:`SCHEMA_VERSION`.

::

    shards/
      meta.json            commit point: dataset, σ (px and dva), options, dtype, format, schema_version,
                           stored normalisation, shard table {name: sha256, bytes, n_maps},
                           sha256 of manifest.parquet and fixations.parquet
      manifest.parquet     one row per stimulus (MANIFEST_SCHEMA), sorted by stimulus
      fixations.parquet    the FixationTable the maps were built from (all rows, before the selection
                           options.selection / drop_first; ShardSet.fixations applies it)
      maps/00000.parquet   up to shard_size maps each (default format): one row group per map, columns key,
                           stimulus, height, width, dtype, data, encoding, scale (PARQUET_MAP_SCHEMA)
                           or maps/00000.npz (``--format npz``): uncompressed deterministic NPZ, entry
                           "<key>.npy" (no scale column; the map is the whole record)
      maps/00000.json      sidecar of each shard: build fingerprint, file sha256, its manifest rows
                           (what resume checks; finalisation assembles the manifest from these)

Stored maps are peak-normalised (max = 1, ``stored_normalization = "max"``) in the chosen dtype:

``uint16`` (default)
    ``q = rint(65535 · m / max(m))`` of the float32 map ``m``: max error 0.5/65535 ≈ 7.6e-6 of the peak
    (the bound promised is 1e-4). In Parquet ``data`` holds :data:`U16_CODEC` (2-D first differences
    mod 2¹⁶ minus those of the row above, zigzag, 4-bit nibbles with 16-bit escapes, zstd level 1:
    lossless on ``q``; sets written before hold :data:`U16_NIBBLES_CODEC` or :data:`U16_PLANES_CODEC`,
    still read; all in :mod:`saliency.shards.u16codec`),
    ``encoding`` names it and ``scale`` is the peak of the sum-1 density, so ``q · scale / 65535`` is
    the density (sum 1 to within the quantisation); :meth:`ShardSet.density` returns ``q / Σq`` in
    float32 (exactly sum 1).
``float32`` / ``float16``
    the peak-normalised floats (float16 keeps its relative precision); Parquet ``data`` is the raw
    little-endian bytes (``encoding = "raw"``).

``map_sha256`` is the SHA-256 of the coded ``data`` bytes for :data:`U16_CODEC` and
:data:`U16_NIBBLES_CODEC` (checked before decoding;
the coding is lossless, so they determine q), and of the stored (decoded) array's C-order little-endian
bytes otherwise (raw floats, NPZ, :data:`U16_PLANES_CODEC`); the shard file's SHA-256 (meta.json,
sidecar) covers the encoded bytes, the scale and every other column.
Schema 1 (before the ``encoding`` and ``scale`` columns; float maps only) is still read.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
DTYPES = ("uint16", "float16", "float32")
DEFAULT_DTYPE = "uint16"
DEFAULT_FORMAT = "parquet"
QUANT_LEVELS = 65535
RAW = "raw"
U16_CODEC = "u16-delta3-zigzag-nibbles-zstd"  # written (see saliency.shards.u16codec)
U16_NIBBLES_CODEC = "u16-delta2d-zigzag-nibbles-zstd"  # written before; still read
U16_PLANES_CODEC = "u16-delta2d-zigzag-planes-zstd"  # written first; still read
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
    pa.field("encoding", pa.string(), nullable=False),
    pa.field("scale", pa.float64(), nullable=False),
])


def shard_name(index: int) -> str:
    return f"{index:05d}"


def shard_file(name: str, fmt: str) -> str:
    return f"{MAPS_DIR}/{name}.{fmt}"


def sidecar_file(name: str) -> str:
    return f"{MAPS_DIR}/{name}.json"
