"""DOVES as shipped: the ``+images/`` folder (imgNNN.mat + fixationDatabase.mat), the authors' NaN-duration
records, and pictures embedded in the .mat files written out at ingest so maps need no extra flag."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from saliency.ingest import ingest
from saliency.readers.doves import NON_FINITE_DURATION, read_doves_picture


@pytest.fixture(scope="module")
def shipped(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A +images/ folder like the full dataset's: two fixture images, one copy with a NaN-duration record
    (finite x, y: like the authors' own garbage record), and a synthetic fixationDatabase.mat."""
    folder = tmp_path_factory.mktemp("doves") / "+images"
    folder.mkdir()
    for name in ("img001.mat", "img002.mat"):
        os.symlink(fixtures_dir / "doves" / name, folder / name)
    m = scipy.io.loadmat(fixtures_dir / "doves" / "img003.mat")
    fix = np.asarray(m["fix_data"], dtype=object)
    first = np.asarray(fix.flat[0], dtype=np.float64).copy()
    first[2, 1] = np.nan
    fix.flat[0] = first
    scipy.io.savemat(folder / "img003.mat", {k: v for k, v in m.items() if not k.startswith("__")} | {"fix_data": fix})
    scipy.io.savemat(folder / "fixationDatabase.mat", {"fixationDatabase": np.zeros((3, 4))})
    (folder / "README.txt").write_text("not a recording")
    return folder


def test_shipped_folder_ingests_in_one_call(shipped: Path, tmp_path: Path) -> None:
    res = ingest("doves", [shipped], dataset="doves", out=tmp_path / "out", workers=1)
    rep = res.report
    assert [Path(i["path"]).name for i in rep["ignored_inputs"]] == ["fixationDatabase.mat"]
    assert "combined database" in rep["ignored_inputs"][0]["reason"]
    assert [Path(p).name for p in rep["inputs"]] == ["img001.mat", "img002.mat", "img003.mat"]
    acc = rep["accounting"]
    assert acc["dropped_by_reason"] == {NON_FINITE_DURATION: 1}
    assert acc["kept"] + acc["dropped"] == acc["seen"]
    # the embedded pictures were written once, as 8-bit PNG, and the table points at them
    assert rep["embedded_stimuli"]["stimuli"] == 3
    for name, info in res.table.meta.stimuli.items():
        png = Path(info.path)
        assert png.suffix == ".png" and png.parent == tmp_path / "out" / "stimuli"
        from PIL import Image

        with Image.open(png) as im:
            assert np.array_equal(np.asarray(im), read_doves_picture(shipped / f"{name}.mat"))
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "stimuli").iterdir()}
    table_bytes = (tmp_path / "out" / "fixations.parquet").read_bytes()
    ingest("doves", [shipped], dataset="doves", out=tmp_path / "out", workers=1)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "stimuli").iterdir()} == before
    assert (tmp_path / "out" / "fixations.parquet").read_bytes() == table_bytes


def test_nan_duration_is_not_called_negative_even_when_raising(shipped: Path) -> None:
    from saliency.readers.base import ReadOptions
    from saliency.readers.request import ReadRequest

    res = ingest("doves", [shipped / "img003.mat"], dataset="doves", out=None, workers=1,
                 request=ReadRequest("doves", options=ReadOptions(on_error="raise")))
    assert res.report["accounting"]["dropped_by_reason"] == {NON_FINITE_DURATION: 1}


def test_maps_from_the_shipped_folder_need_no_stimuli_flag(shipped: Path, tmp_path: Path) -> None:
    from saliency.fixations.table import FixationTable
    from saliency.maps.options import MapOptions
    from saliency.shards import build_shards, open_shards

    ingest("doves", [shipped], dataset="doves", out=tmp_path / "out", workers=1)
    table = FixationTable.read_parquet(tmp_path / "out" / "fixations.parquet")
    build_shards(table, tmp_path / "shards", MapOptions(sigma=1.0, sigma_unit="dva"))
    shards = open_shards(tmp_path / "shards")
    assert shards.stimuli == ["img001", "img002", "img003"]
    assert shards.image_path("img001").suffix == ".png"
    assert abs(float(shards.density("img002").sum()) - 1.0) < 1e-4
