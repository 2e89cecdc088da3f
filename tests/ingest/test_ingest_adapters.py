"""The ingest-eyelink area's readers through `saliency ingest`: EyeLink ASC, DOVES, raw samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from saliency.errors import ConfigError
from saliency.ingest import ingest
from saliency.readers.request import ReadRequest


def test_eyelink_monocular_file_through_ingest(fixtures_dir: Path) -> None:
    res = ingest("eyelink", [fixtures_dir / "eyelink" / "eyelink_monocular_example.asc"], dataset="el", out=None,
                 request=ReadRequest("el", stimulus="screen.png", stimulus_size=(1280, 1024)))
    acc = res.report["accounting"]
    assert acc["kept"] + acc["dropped"] == acc["seen"] > 0
    assert res.table.data["stimulus"].unique().tolist() == ["screen.png"]
    assert res.table.data["observer"].unique().tolist() == ["eyelink_monocular_example"]


def test_eyelink_binocular_eye_choice_is_counted(fixtures_dir: Path) -> None:
    path = fixtures_dir / "eyelink" / "eyelink_binocular_example.asc"
    mean = ingest("eyelink", [path], dataset="el", out=None, request=ReadRequest("el", stimulus="s.png"))
    left = ingest("eyelink", [path], dataset="el", out=None, request=ReadRequest("el", stimulus="s.png", eye="left"))
    assert mean.report["accounting"]["seen"] == left.report["accounting"]["seen"]
    assert "other eye" in left.report["accounting"]["dropped_by_reason"]
    assert set(left.table.data["eye"]) <= {"left"}


def test_eyelink_unknown_option_is_a_config_error(fixtures_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown eyelink option"):
        ingest("eyelink", [fixtures_dir / "eyelink" / "eyelink_monocular_example.asc"], dataset="el", out=None,
               request=ReadRequest("el", stimulus="s.png", extra={"colour": "red"}), workers=1)


def test_doves_folder_keeps_every_authors_fixation(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "doves"
    res = ingest("doves", [folder], dataset="doves", out=None, workers=1)
    n = 0
    for f in sorted(folder.glob("*.mat")):
        m = scipy.io.loadmat(f)
        n += sum(np.asarray(c).shape[1] for c in np.asarray(m["fix_data"], dtype=object).ravel()
                 if np.asarray(c).size)
    acc = res.report["accounting"]
    assert acc["seen"] == n and acc["kept"] + acc["dropped"] == n
    assert res.table.meta.ppd == 60.0 and len(res.table.meta.stimuli) == 5


def test_samples_detects_two_fixations(tmp_path: Path) -> None:
    t = np.arange(600.0)
    x = np.where(t < 250, 100.0, np.where(t < 270, 100 + (t - 250) * 10, 300.0))
    y = np.where(t < 250, 100.0, np.where(t < 270, 100 + (t - 250) * 5, 200.0))
    p = tmp_path / "sub7.tsv"
    p.write_text("time\tx\ty\n" + "".join(f"{ti:.0f}\t{xi:.1f}\t{yi:.1f}\n" for ti, xi, yi in zip(t, x, y, strict=True)))
    res = ingest("samples", [p], dataset="smp", out=None,
                 request=ReadRequest("smp", stimulus="img.png", stimulus_size=(400, 300), pixels_per_degree=30.0))
    d = res.table.data
    assert len(d) == 2 and d["observer"].unique().tolist() == ["sub7"]
    np.testing.assert_allclose(d[["x", "y"]].to_numpy(), [[100, 100], [300, 200]], atol=1.0)
    assert d["t_start_ms"].iat[0] == 0.0
    with pytest.raises(ConfigError, match="--ppd"):
        ingest("samples", [p], dataset="smp", out=None, request=ReadRequest("smp", stimulus="img.png",
                                                                            stimulus_size=(400, 300)))
