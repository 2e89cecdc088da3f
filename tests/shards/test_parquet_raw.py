"""Map bytes read straight from the Parquet column chunk (saliency.shards.parquet_raw) equal pyarrow's; any
other layout is refused (None), so the shard reader falls back to pyarrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from saliency.shards.codec import ShardFile, write_parquet_maps
from saliency.shards.parquet_raw import chunk_locations, payload, read_payload
from saliency.shards.schema import PARQUET_MAP_SCHEMA
from saliency.shards.u16codec import encode_u16


def _entries(n: int = 5):
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        m = rng.random((30 + k, 40)).astype(np.float32)
        out.append((f"k{k}", f"s{k}.jpg", encode_u16(m) if k % 2 else m, 0.5))
    return out


def _values(path) -> list[bytes]:
    return pq.read_table(path, columns=["data"]).column("data").to_pylist()


def test_writer_layout_is_read_by_pread(tmp_path):
    path = tmp_path / "maps.parquet"
    entries = _entries()
    write_parquet_maps(path, entries)
    locs = chunk_locations(pq.ParquetFile(path), "data")
    assert locs is not None and len(locs) == len(entries)
    with open(path, "rb") as f:
        got = [bytes(read_payload(f.fileno(), loc)) for loc in locs]
    assert got == _values(path)
    sf = ShardFile(path, "parquet")
    assert sf._chunks is not None
    for key, _, m, _ in entries:
        arr, _ = sf.read(key)
        ref = np.asarray(m) if isinstance(m, np.ndarray) else None
        if ref is not None:
            assert np.array_equal(arr, ref)
        else:
            assert arr.dtype == np.uint16 and arr.shape == m.shape


@pytest.mark.parametrize("kw", [{"compression": "zstd"}, {"use_dictionary": True, "compression": "none"}])
def test_other_layouts_fall_back_to_pyarrow(tmp_path, kw):
    src = tmp_path / "plain.parquet"
    write_parquet_maps(src, _entries())
    table = pq.read_table(src)
    path = tmp_path / "other.parquet"
    pq.write_table(table, path, row_group_size=1, **kw)
    assert chunk_locations(pq.ParquetFile(path), "data") is None
    sf = ShardFile(path, "parquet")
    assert sf._chunks is None
    assert np.array_equal(sf.read("k0")[0], ShardFile(src, "parquet").read("k0")[0])


def test_data_page_v2_is_read_and_bad_headers_are_refused(tmp_path):
    table = pa.table({"data": [b"abc" * 50, b"xyz" * 70]},
                     schema=pa.schema([pa.field("data", pa.binary(), nullable=False)]))
    path = tmp_path / "v2.parquet"
    pq.write_table(table, path, row_group_size=1, compression="none", use_dictionary=False,
                   write_statistics=False, data_page_version="2.0")
    locs = chunk_locations(pq.ParquetFile(path), "data")
    with open(path, "rb") as f:
        assert [bytes(read_payload(f.fileno(), loc)) for loc in locs] == [b"abc" * 50, b"xyz" * 70]
        chunk = bytearray(f.read())[locs[0][0]:locs[0][0] + locs[0][1]]
    assert bytes(payload(bytes(chunk))) == b"abc" * 50
    assert payload(bytes(chunk[:-1])) is None                 # sizes no longer add up
    assert payload(b"\x00" + bytes(chunk[1:])) is None        # not a page header
    assert payload(b"\xff" * 40) is None
    assert PARQUET_MAP_SCHEMA.field("data").nullable is False  # the writer's column is required
