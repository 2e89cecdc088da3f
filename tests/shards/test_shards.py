"""Shard sets: round trip, byte-identical re-runs, resume after a kill, verification, formats, split builds."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from saliency.cli.app import main
from saliency.errors import ChecksumError, UnknownNameError
from saliency.io import sha256_file
from saliency.maps import MapOptions, SeparableGaussian, fuse_fixations, stimulus_map
from saliency.shards import build_shards, finalize_shards, open_shards
from saliency.shards.schema import MANIFEST_COLUMNS

OPTS = MapOptions(sigma=24.0)
NPZ = {"dtype": "float32", "fmt": "npz"}  # the uncompressed float layout (schema 1's default)


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(osie_small, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("osie") / "shards"
    result = build_shards(osie_small, root, OPTS, shard_size=3, **NPZ)
    assert result.finalized and result.built == ["00000", "00001", "00002"] and result.n_maps_built == 7
    return root


def test_round_trip_gives_the_maps_and_fixations(built, osie_small):
    ss = open_shards(built)
    assert ss.stimuli == osie_small.stimuli() and len(ss) == 7
    assert tuple(ss.manifest.columns[:len(MANIFEST_COLUMNS)]) == MANIFEST_COLUMNS
    meta = ss.meta
    assert (meta["sigma_px"], meta["dtype"], meta["format"], meta["schema_version"]) == (24.0, "float32", "npz", 2)
    assert meta["options"]["mode"] == "constant" and meta["stored_normalization"] == "max"
    for name in ss.stimuli:
        gt = ss.load(name)
        rows = osie_small.for_stimulus(name)
        assert gt.density.dtype == np.float32 and gt.density.shape == (600, 800)
        assert float(gt.density.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
        ref = fuse_fixations(rows["x"].to_numpy(), rows["y"].to_numpy(), 600, 800, 24.0)
        assert np.abs(gt.density - ref).max() <= 1e-6 * ref.max()
        assert len(gt.fixations) == len(rows) and (gt.fixations["stimulus"] == name).all()
        assert gt.image_path.exists() and ss.image_path(name) == gt.image_path
    rec = ss.manifest.set_index("stimulus").loc["1001.jpg"]
    assert rec["n_observers"] == 15 and rec["image_sha256"] == sha256_file(ss.image_path("1001.jpg"))
    assert [g.stimulus for g in ss.iter_ground_truth()] == ss.stimuli
    with pytest.raises(UnknownNameError, match=r"nope\.jpg"):
        ss.load("nope.jpg")
    assert ss.read_order(ss.stimuli[::-1]) == ss.stimuli       # shard, then key: here the stimulus order
    with pytest.raises(UnknownNameError, match=r"nope\.jpg"):
        ss.read_order([ss.stimuli[0], "nope.jpg"])
    assert pickle.loads(pickle.dumps(ss)).density("1003.jpg").shape == (600, 800)


def test_rerun_is_byte_identical_and_skips_everything(built, osie_small, tmp_path):
    before = _tree(built)
    again = build_shards(osie_small, built, OPTS, shard_size=3, **NPZ)
    assert again.built == [] and again.skipped == ["00000", "00001", "00002"]
    assert _tree(built) == before
    fresh = tmp_path / "fresh"
    build_shards(osie_small, fresh, OPTS, shard_size=3, workers=2, **NPZ)  # two threads: same bytes
    assert _tree(fresh) == before


def test_resume_after_a_kill_rebuilds_only_the_broken_shard(osie_small, tmp_path):
    root = tmp_path / "s"
    build_shards(osie_small, root, OPTS, shard_size=3, **NPZ)
    before = _tree(root)
    # a kill mid-write leaves a truncated shard (or none) and no manifest/meta
    shard = root / "maps/00001.npz"
    shard.write_bytes(shard.read_bytes()[:1000])
    (root / "meta.json").unlink()
    (root / "maps/00002.npz").unlink()
    (root / "maps/.00002.npz.k1lled.tmp").write_bytes(b"half a shard")  # what atomic_write leaves on SIGKILL
    result = build_shards(osie_small, root, OPTS, shard_size=3, **NPZ)
    assert result.built == ["00001", "00002"] and result.skipped == ["00000"]
    assert _tree(root) == before


def test_changed_options_rebuild_everything(osie_small, tmp_path):
    root = tmp_path / "s"
    build_shards(osie_small, root, OPTS, shard_size=3, **NPZ)
    result = build_shards(osie_small, root, MapOptions(sigma=12.0), shard_size=3, **NPZ)
    assert result.skipped == [] and len(result.built) == 3
    assert open_shards(root).meta["sigma_px"] == 12.0


def test_verify_names_the_corrupt_shard(osie_small, tmp_path, capsys):
    root = tmp_path / "s"
    build_shards(osie_small, root, OPTS, shard_size=3, **NPZ)
    assert open_shards(root).verify(deep=True).ok
    with pytest.raises(SystemExit) as ok:
        main(["verify", str(root)])
    assert ok.value.code == 0
    shard = root / "maps/00001.npz"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside a map
    shard.write_bytes(bytes(data))
    report = open_shards(root).verify()
    assert list(report.problems) == ["maps/00001.npz"]
    with pytest.raises(SystemExit) as bad:
        main(["verify", str(root)])
    assert bad.value.code == 1
    assert "maps/00001.npz" in capsys.readouterr().out
    ss = open_shards(root)
    with pytest.raises(ChecksumError, match="corrupt"):
        for name in ss.stimuli:
            ss.density(name)


def test_parquet_format_reads_back_the_same_maps(built, osie_small, tmp_path):
    root = tmp_path / "pq"
    build_shards(osie_small, root, OPTS, shard_size=4, fmt="parquet", dtype="float32")
    a, b = open_shards(built), open_shards(root)
    assert b.meta["format"] == "parquet" and sorted(b.meta["shards"]) == ["00000", "00001"]
    for name in a.stimuli:
        np.testing.assert_array_equal(a.density(name), b.density(name))
    assert b.verify(deep=True).ok
    before = _tree(root)
    build_shards(osie_small, root, OPTS, shard_size=4, fmt="parquet", dtype="float32")
    assert _tree(root) == before


def test_float16_storage_keeps_relative_precision(built, osie_small, tmp_path):
    root = tmp_path / "f16"
    build_shards(osie_small, root, OPTS, shard_size=8, dtype="float16", fmt="npz")
    a, b = open_shards(built), open_shards(root)
    for name in a.stimuli:
        da, db = a.density(name), b.density(name)
        assert np.abs(da - db).max() <= 1e-3 * da.max()
    assert b.stored_map("1001.jpg").dtype == np.float16


def test_split_build_over_two_tasks_equals_a_single_build(built, osie_small, tmp_path):
    root = tmp_path / "split"
    first = build_shards(osie_small, root, OPTS, shard_size=3, shard_index=0, shard_count=2, **NPZ)
    assert first.built == ["00000", "00002"] and not first.finalized and first.missing == ["00001"]
    assert not (root / "meta.json").exists()
    second = build_shards(osie_small, root, OPTS, shard_size=3, shard_index=1, shard_count=2, **NPZ)
    assert second.built == ["00001"] and second.finalized
    assert _tree(root) == _tree(built)
    (root / "meta.json").unlink()
    (root / "manifest.parquet").unlink()
    finalize_shards(root)  # `saliency maps --finalize --out DIR`: from the sidecars on disk
    assert _tree(root) == _tree(built)


def test_loading_never_unpickles(built, tmp_path):
    root = tmp_path / "evil"
    import shutil

    shutil.copytree(built, root)
    shard = root / "maps/00000.npz"
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(shard, "w") as zf:
        zf.writestr("00000.npy", buf.getvalue())
    ss = open_shards(root)
    with pytest.raises(ChecksumError):
        ss.density("1001.jpg")


def test_maps_cli_builds_verifies_and_show_renders(osie_small, tmp_path):
    from PIL import Image

    fix = tmp_path / "fixations.parquet"
    osie_small.write_parquet(fix)
    out = tmp_path / "cli"
    with pytest.raises(SystemExit) as rc:
        main(["maps", str(fix), "--out", str(out), "--sigma", "24", "--mode", "reflect", "--drop-first",
              "--observer-equal", "--shard-size", "5", "--json"])
    assert rc.value.code == 0
    ss = open_shards(out)
    assert ss.meta["options"]["drop_first"] and ss.meta["options"]["mode"] == "reflect"
    rows = osie_small.for_stimulus("1002.jpg")
    opts = MapOptions(sigma=24.0, mode="reflect", drop_first=True, observer_equal=True)
    ref = stimulus_map(rows, SeparableGaussian(600, 800, 24.0, "reflect"), opts)
    assert ss.meta["dtype"] == "uint16" and ss.meta["format"] == "parquet"  # the quantised default
    np.testing.assert_allclose(ss.density("1002.jpg"), ref, atol=1e-5 * float(ref.max()))
    png = tmp_path / "show.png"
    with pytest.raises(SystemExit) as rc:
        main(["show", "1002.jpg", "--shards", str(out), "--out", str(png)])
    assert rc.value.code == 0
    with Image.open(png) as im:
        assert im.size == (1600, 622)
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 20  # a picture, not a blank canvas
    heat = pixels[22:, 800:].astype(int)
    assert (heat[..., 0] - heat[..., 2]).max() > 100  # the heat map's red peak is there


def test_cli_split_build_and_finalize(osie_small, tmp_path, capsys):
    fix = tmp_path / "fixations.parquet"
    osie_small.write_parquet(fix)
    out = tmp_path / "split"
    for index in (0, 1):
        with pytest.raises(SystemExit) as rc:
            main(["maps", str(fix), "--out", str(out), "--shard-size", "3", "--shard-index", str(index),
                  "--shard-count", "2", "--format", "parquet", "--dtype", "float16"])
        assert rc.value.code == 0
    assert "not finalised yet" in capsys.readouterr().out
    (out / "meta.json").unlink()
    with pytest.raises(SystemExit) as rc:
        main(["maps", "--finalize", "--out", str(out)])
    assert rc.value.code == 0
    ss = open_shards(out)
    assert len(ss) == 7 and ss.meta["format"] == "parquet" and ss.verify(deep=True).ok
    (out / "maps/00001.parquet").unlink()
    with pytest.raises(SystemExit) as rc:
        main(["verify", str(out), "--json"])
    assert rc.value.code == 1
    assert '"maps/00001.parquet": "missing"' in capsys.readouterr().out


def test_shard_set_gives_leave_one_observer_out_maps(built, osie_small):
    ss = open_shards(built)
    loo = ss.leave_one_observer_out("1004.jpg")
    rows = osie_small.for_stimulus("1004.jpg")
    assert sorted(loo) == sorted(rows["observer"].unique())
    others = rows[rows["observer"] != "s03"]
    ref = fuse_fixations(others["x"].to_numpy(), others["y"].to_numpy(), 600, 800, 24.0)
    np.testing.assert_allclose(loo["s03"], ref, atol=1e-6 * float(ref.max()))
