"""Quantised shards (the default: uint16 of the peak-normalised map in zstd-coded Parquet): fidelity, size,
lossless codec, stored scale, and reading schema-1 sets."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from saliency.errors import ConfigError
from saliency.maps import MapOptions
from saliency.shards import build_shards, open_shards
from saliency.shards.codec import ShardFile
from saliency.shards.schema import U16_CODEC, U16_NIBBLES_CODEC, U16_PLANES_CODEC
from saliency.shards.u16codec import decode_u16, encode_u16

OPTS = MapOptions(sigma=24.0)


@pytest.fixture(scope="module")
def pair(osie_small, tmp_path_factory):
    base = tmp_path_factory.mktemp("quant")
    build_shards(osie_small, base / "f32", OPTS, shard_size=4, dtype="float32", fmt="npz")
    build_shards(osie_small, base / "u16", OPTS, shard_size=4)
    return base / "f32", base / "u16"


def _planes_coding(q: np.ndarray) -> bytes:
    """The older planes codec, written independently in numpy: 2-D differences mod 2¹⁶, zigzag, low bytes
    then high bytes, zstd."""
    p = np.pad(q.astype(np.int64), ((1, 0), (1, 0)))
    d = ((p[1:, 1:] - p[1:, :-1] - p[:-1, 1:] + p[:-1, :-1]) & 0xFFFF).astype(np.uint16).view(np.int16)
    z = ((d.astype(np.int64) << 1) ^ (d.astype(np.int64) >> 15)) & 0xFFFF
    planes = np.concatenate([(z & 0xFF).ravel(), (z >> 8).ravel()]).astype(np.uint8)
    return pa.Codec("zstd", compression_level=1).compress(planes, asbytes=True)


def _nibble_coding(q: np.ndarray, column: bool) -> bytes:
    """The two nibble codecs, written independently in numpy: D = 2-D differences mod 2¹⁶ (minus the row
    above's D for the column codec), zigzag, nibbles min(z, 15) two per byte (low first), escapes z − 15 as
    uint16 LE in pixel order, zstd level 1 behind the escape count (uint32 LE)."""
    p = np.pad(q.astype(np.int64), ((1, 0), (1, 0)))
    d = (p[1:, 1:] - p[1:, :-1] - p[:-1, 1:] + p[:-1, :-1]) & 0xFFFF
    if column:
        d = (d - np.pad(d, ((1, 0), (0, 0)))[:-1]) & 0xFFFF
    r = d.astype(np.uint16).view(np.int16).astype(np.int64).ravel()
    z = ((r << 1) ^ (r >> 15)) & 0xFFFF
    nib = np.minimum(z, 15).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    esc = (z[z >= 15] - 15).astype("<u2")
    body = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8).tobytes() + esc.tobytes()
    return np.uint32(esc.size).astype("<u4").tobytes() + pa.Codec("zstd", compression_level=1).compress(
        body, asbytes=True)


@settings(max_examples=80, deadline=None)
@given(arrays(np.uint16, st.tuples(st.integers(1, 9), st.integers(1, 9))))
def test_codec_is_lossless_on_any_uint16_array_and_reads_the_older_codecs(q):
    q[0, 0] = 65535                        # peak at full scale: quantising q itself is the identity
    coded = encode_u16(q.astype(np.float64))
    assert coded.shape == q.shape
    assert coded.data == _nibble_coding(q, column=True)     # the documented layout, byte for byte
    out = decode_u16(coded.data, *q.shape)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, q)
    np.testing.assert_array_equal(decode_u16(coded.data, *q.shape, U16_CODEC), q)
    np.testing.assert_array_equal(decode_u16(_nibble_coding(q, column=False), *q.shape, U16_NIBBLES_CODEC), q)
    np.testing.assert_array_equal(decode_u16(_planes_coding(q), *q.shape, U16_PLANES_CODEC), q)


def test_column_residuals_of_a_smooth_map_need_no_escapes():
    yy, xx = np.mgrid[0:260, 0:340]        # σ = 24 px, 0 at the borders (as OSIE's maps)
    m = np.exp(-((xx - 170.0) ** 2 + (yy - 130.0) ** 2) / (2 * 24.0 ** 2))
    coded = encode_u16(m)
    assert coded.data[:4] == bytes(4)                         # no escapes (the 2-D differences need some)
    q = np.round(65535 * m).astype(np.uint16)
    assert _nibble_coding(q, column=False)[:4] != bytes(4)
    np.testing.assert_array_equal(decode_u16(coded.data, 260, 340), q)


def test_damaged_coded_bytes_are_an_error_never_a_wrong_map():
    q = (np.random.default_rng(1).random((20, 30)) * 65535).astype(np.uint16)   # noise: many escapes
    q[0, 0] = 65535
    data = encode_u16(q.astype(np.float64)).data
    assert decode_u16(data, 20, 30).tolist() == q.tolist()
    for bad in (data[:-3], b"\xff\xff\xff\x7f" + data[4:], data[:4] + bytes(len(data) - 4), data[:2]):
        with pytest.raises(ValueError):
            decode_u16(bad, 20, 30)


def test_quantisation_error_is_at_most_half_a_level():
    m = np.random.default_rng(0).random((37, 53), dtype=np.float32)
    m /= m.max()
    coded = encode_u16(np.concatenate([m, -1e-9 * m]))   # tiny negative rounding noise → 0
    q = decode_u16(coded.data, *coded.shape)
    assert (q[m.shape[0]:] == 0).all() and coded.scale == pytest.approx(1 / m.sum(dtype=np.float64))
    q = q[: m.shape[0]]
    assert q.max() == 65535 and np.abs(q / 65535.0 - m).max() <= 0.51 / 65535  # half a level + float32 rounding


def test_quantised_maps_match_float_maps_within_1e_4_of_the_peak_and_are_10x_smaller(pair):
    f32, u16 = open_shards(pair[0]), open_shards(pair[1])
    assert u16.meta["dtype"] == "uint16" and u16.meta["format"] == "parquet" and u16.meta["schema_version"] == 2
    for name in f32.stimuli:
        a, b = f32.density(name), u16.density(name)
        assert b.dtype == np.float32 and float(b.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
        assert np.abs(a - b).max() <= 1e-4 * a.max()
        assert u16.stored_map(name).dtype == np.uint16
        peak = u16.peak_density(name)
        assert peak == pytest.approx(float(a.max()), rel=1e-5)
        assert f32.peak_density(name) is None   # npz stores no scale
    size = {k: sum(p.stat().st_size for p in (root / "maps").glob("*.*") if p.suffix != ".json")
            for k, root in (("f32", pair[0]), ("u16", pair[1]))}
    assert size["f32"] >= 10 * size["u16"]
    assert u16.verify(deep=True).ok


def test_uint16_needs_parquet(osie_small, tmp_path):
    with pytest.raises(ConfigError, match="parquet"):
        build_shards(osie_small, tmp_path / "x", OPTS, dtype="uint16", fmt="npz")


def test_schema_1_sets_still_read(pair, tmp_path):
    import shutil

    old = tmp_path / "v1"
    shutil.copytree(pair[0], old)   # npz float32: the schema-1 byte layout
    meta = json.loads((old / "meta.json").read_text())
    meta["schema_version"] = 1
    meta.pop("meta_sha256", None)   # schema-1 sets predate the meta seal
    (old / "meta.json").write_text(json.dumps(meta))
    ss, ref = open_shards(old), open_shards(pair[0])
    np.testing.assert_array_equal(ss.density(ss.stimuli[0]), ref.density(ref.stimuli[0]))
    # a schema-1 Parquet shard: six columns, raw bytes, no encoding/scale
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    schema = pa.schema([("key", pa.string()), ("stimulus", pa.string()), ("height", pa.int32()),
                        ("width", pa.int32()), ("dtype", pa.string()), ("data", pa.binary())])
    pq.write_table(pa.table({"key": ["00000"], "stimulus": ["s"], "height": pa.array([3], pa.int32()),
                             "width": pa.array([4], pa.int32()), "dtype": ["<f4"], "data": [a.tobytes()]},
                            schema=schema), tmp_path / "old.parquet")
    arr, scale = ShardFile(tmp_path / "old.parquet", "parquet").read("00000")
    np.testing.assert_array_equal(arr, a)
    assert scale is None


def test_threads_write_the_same_bytes_as_one(pair, osie_small, tmp_path):
    build_shards(osie_small, tmp_path / "t3", OPTS, shard_size=4, workers=3)
    for p in sorted((pair[1] / "maps").iterdir()):
        assert (tmp_path / "t3" / "maps" / p.name).read_bytes() == p.read_bytes(), p.name
    assert (tmp_path / "t3" / "meta.json").read_text() == (pair[1] / "meta.json").read_text()


def test_nibble_coded_shards_of_earlier_builds_still_read_and_verify(tmp_path):
    import hashlib

    from saliency.errors import ChecksumError
    from saliency.shards.schema import PARQUET_MAP_SCHEMA

    q = (np.hypot(*np.mgrid[-20:20, -30:30]) * 900).astype(np.uint16)
    data = _nibble_coding(q, column=False)
    pq.write_table(pa.table({"key": ["00000"], "stimulus": ["s"], "height": pa.array([40], pa.int32()),
                             "width": pa.array([60], pa.int32()), "dtype": ["<u2"], "data": [data],
                             "encoding": [U16_NIBBLES_CODEC], "scale": [0.5]}, schema=PARQUET_MAP_SCHEMA),
                   tmp_path / "old.parquet")
    shard = ShardFile(tmp_path / "old.parquet", "parquet")
    arr, scale = shard.read("00000", hashlib.sha256(data).hexdigest())   # map_sha256: of the coded bytes
    np.testing.assert_array_equal(arr, q)
    assert scale == 0.5
    with pytest.raises(ChecksumError):
        shard.read("00000", "0" * 64)


def test_planes_coded_shards_of_earlier_builds_still_read_and_verify(tmp_path):
    from saliency.errors import ChecksumError
    from saliency.shards.codec import array_sha256
    from saliency.shards.schema import PARQUET_MAP_SCHEMA

    q = (np.hypot(*np.mgrid[-20:20, -30:30]) * 900).astype(np.uint16)
    pq.write_table(pa.table({"key": ["00000"], "stimulus": ["s"], "height": pa.array([40], pa.int32()),
                             "width": pa.array([60], pa.int32()), "dtype": ["<u2"], "data": [_planes_coding(q)],
                             "encoding": [U16_PLANES_CODEC], "scale": [0.5]}, schema=PARQUET_MAP_SCHEMA),
                   tmp_path / "old.parquet")
    shard = ShardFile(tmp_path / "old.parquet", "parquet")
    arr, scale = shard.read("00000", array_sha256(q))      # its map_sha256: of the decoded array
    np.testing.assert_array_equal(arr, q)
    assert scale == 0.5
    with pytest.raises(ChecksumError, match="map_sha256"):
        shard.read("00000", array_sha256(q + 1))


@pytest.mark.parametrize("damage", ["missing", "wrong_size", "not_an_image"])
def test_bad_stimulus_images_are_typed_errors_on_threads_too(osie_small, tmp_path, damage):
    import shutil

    from PIL import Image

    from saliency.errors import ReaderError, SchemaError

    images = tmp_path / "stimuli"
    images.mkdir()
    names = osie_small.stimuli()
    for s in names:
        shutil.copy(osie_small.meta.stimuli[s].path, images / s)
    bad = images / names[4]
    if damage == "missing":
        bad.unlink()
    elif damage == "wrong_size":
        Image.new("RGB", (80, 60)).save(bad, "JPEG")
    else:
        bad.write_bytes(b"not an image at all")
    err = SchemaError if damage == "wrong_size" else ReaderError
    with pytest.raises(err, match=names[4].split(".")[0]):
        build_shards(osie_small, tmp_path / "out", OPTS, stimuli_dir=images, shard_size=3, workers=2)


def test_a_coded_map_changed_inside_its_shard_is_caught_by_its_map_sha256(pair, tmp_path):
    import shutil

    from saliency.errors import ChecksumError

    root = tmp_path / "u16"
    shutil.copytree(pair[1], root)
    path = sorted((root / "maps").glob("*.parquet"))[0]
    coded = pq.read_table(path).column("data")[1].as_py()
    raw = bytearray(path.read_bytes())
    at = raw.find(coded) + len(coded) // 2                # one bit in the middle of the second map's bytes
    raw[at] ^= 1
    path.write_bytes(bytes(raw))                           # same size: only the checksums can tell
    ss = open_shards(root)
    stim = ss._manifest.loc[(ss._manifest["shard"] == path.stem) & (ss._manifest["key"] == "00001"),
                            "stimulus"].item()
    report = ss.verify(deep=True)
    assert not report.ok and path.name in " ".join(report.problems)   # the file's checksum first
    with pytest.raises(ChecksumError, match="map_sha256"):
        ss.stored_map(stim)


def test_the_maps_program_ends_early_with_every_output_written(osie_small, pair, tmp_path):
    """`python -m saliency maps` ends without module teardown (saliency.cli.common.end_process) once the set is
    sealed: exit code 0, complete JSON, and shards byte-identical to the library's build."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    fix = tmp_path / "fixations.parquet"
    osie_small.write_parquet(fix)
    out = tmp_path / "shards"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    res = subprocess.run([sys.executable, "-m", "saliency", "maps", str(fix), "--out", str(out), "--sigma", "24",
                          "--shard-size", "4", "--workers", "2", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["maps_built"] == len(osie_small.stimuli())
    for p in sorted((pair[1] / "maps").glob("*.parquet")):
        assert (out / "maps" / p.name).read_bytes() == p.read_bytes(), p.name
    assert open_shards(out).verify(deep=True).ok
