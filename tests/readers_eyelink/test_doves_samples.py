"""DOVES reader (authors' and detected fixations, map agreement) and raw sample tables."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from saliency.errors import ReaderError
from saliency.fixations.accounting import Accounting
from saliency.fixations.table import FixationTable
from saliency.readers.base import ReadOptions
from saliency.readers.doves import DOVES_PPD, read_doves
from saliency.readers.samples import SAMPLES_MISSING, read_samples

IMAGES = ["img001", "img002", "img003", "img004", "img005"]


@functools.cache
def _read(path: Path, method: str = "authors"):
    return read_doves(path, fixations=method)


def density(df, height: int, width: int, sigma_px: float) -> np.ndarray:
    """Tiny test-only fixation density: counts at floor(x), floor(y), Gaussian σ, sum 1."""
    m = np.zeros((height, width))
    np.add.at(m, (df["y"].to_numpy().astype(int), df["x"].to_numpy().astype(int)), 1.0)
    m = gaussian_filter(m, sigma_px, mode="constant")
    return m / m.sum()


def cc(a: np.ndarray, b: np.ndarray) -> float:
    a = (a - a.mean()) / a.std()
    b = (b - b.mean()) / b.std()
    return float((a * b).mean())


@pytest.mark.parametrize("image", IMAGES)
def test_doves_authors_fixations_are_0_based_and_complete(fixtures_dir, image):
    path = fixtures_dir / "doves" / f"{image}.mat"
    img = _read(path)
    df = img.fixations
    assert img.picture.shape == (768, 1024) and img.stimulus == image
    assert df["observer"].nunique() == 29 and len(img.traces) == 29
    assert (df["duration_ms"] % 5 == 0).all() and df["duration_ms"].min() >= 100  # 200 Hz samples
    table = img.to_table(ReadOptions(out_of_stimulus="clip"), Accounting())
    assert isinstance(table, FixationTable) and len(table) == len(df)
    # the first fixation is on the central fixation cross: image centre (512, 384) within ~10 px
    first = df.groupby("observer").head(1)
    assert abs(first["x"].mean() - 512) < 10 and abs(first["y"].mean() - 384) < 10


# Measured CC (σ = 60 px = 1°) between maps of the authors' fixations and of our detections, all 29
# observers, defaults (see docs/readers-eyelink.md): I-VT 0.995–0.999, I-DT 0.996–0.999.
@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("method", ["ivt", "idt"])
def test_doves_detected_fixations_give_the_authors_density(fixtures_dir, image, method):
    path = fixtures_dir / "doves" / f"{image}.mat"
    authors = _read(path).fixations
    ours = _read(path, method)
    df = ours.fixations
    assert len(df) > 0.8 * len(authors)
    assert df["source"].str.contains(r"\[observer=\w+,sample=\d+\]$").all()
    assert cc(density(authors, 768, 1024, DOVES_PPD), density(df, 768, 1024, DOVES_PPD)) > 0.98


def test_doves_rejects_a_non_doves_file():
    p = Path(tempfile.mkdtemp()) / "x.mat"
    p.write_bytes(b"not a mat file")
    with pytest.raises(ReaderError):
        read_doves(p)


def test_sample_tables_monocular_and_binocular(fixtures_dir):
    mono = read_samples(fixtures_dir / "samples" / "monocular_1khz.tsv")
    assert len(mono) == 10 and mono.eye == "unknown" and mono.validity.all()
    assert mono.x_px[0] == 91.8 and mono.line[0] == 2
    assert np.all(np.diff(mono.time_ms) == 1.0)
    bino = read_samples(fixtures_dir / "samples" / "binocular_1khz.tsv")
    assert bino.eye == "mean" and bino.x_px[0] == pytest.approx((649.5 + 640.6) / 2)
    assert set(bino.trial.tolist()) == {1}
    right = read_samples(fixtures_dir / "samples" / "binocular_1khz.tsv", eye="right")
    assert right.y_px[0] == 529.1


def test_sample_tables_missing_values_and_bad_rows(fixtures_dir):
    src = (fixtures_dir / "samples" / "binocular_1khz.tsv").read_text().splitlines()
    d = Path(tempfile.mkdtemp())
    rows = [*src[:4], "1\t1\t8005277\t.\t.\t642.1\t531.3", "1\t1\t8005278\t0\t0\t0\t0", *src[6:]]
    (d / "missing.tsv").write_text("\n".join(rows) + "\n")
    acc = Accounting()
    s = read_samples(d / "missing.tsv", accounting=acc)
    assert len(s) == 10 and (~s.validity).sum() == 2 and np.isnan(s.x_px[3:5]).all()
    assert acc.to_dict()["files"][str(d / "missing.tsv")]["noted"][SAMPLES_MISSING] == 2
    left_only = read_samples(d / "missing.tsv", eye="right")
    assert left_only.validity[3] and not left_only.validity[4]
    (d / "bad.tsv").write_text("\n".join([*src[:4], "1\t1\t8005279\tabc\t1\t2\t3", *src[5:]]) + "\n")
    with pytest.raises(ReaderError) as err:
        read_samples(d / "bad.tsv")
    assert err.value.line == 5
    acc = Accounting()
    s = read_samples(d / "bad.tsv", options=ReadOptions(on_error="skip"), accounting=acc)
    assert len(s) == 9
    (d / "empty.tsv").write_text("")
    with pytest.raises(ReaderError, match="empty"):
        read_samples(d / "empty.tsv")


def _fake_doves(fix: np.ndarray) -> Path:
    import scipy.io

    p = Path(tempfile.mkdtemp()) / "img999.mat"
    cell = np.empty((1, 2), dtype=object)
    eye = np.empty((1, 2), dtype=object)
    names = np.empty((1, 2), dtype=object)
    for k in range(2):
        cell[0, k] = fix
        eye[0, k] = np.array([[101.0, 102.0, 103.0], [51.0, 52.0, 53.0]])
        names[0, k] = np.array([f"OB{k}.eye"])
    scipy.io.savemat(p, {"picture": np.zeros((30, 40)), "eye_data": eye, "fix_data": cell, "subj_names_list": names})
    return p


def test_doves_bad_values_raise_or_are_counted():
    good = np.array([[11.0, 21.0], [6.0, 16.0], [20.0, 30.0]])
    img = read_doves(_fake_doves(good))
    assert img.fixations["x"].tolist() == [10.0, 20.0, 10.0, 20.0]  # 1-based → 0-based
    assert img.fixations["duration_ms"].tolist() == [100.0, 150.0, 100.0, 150.0]
    assert set(img.fixations["observer"]) == {"OB0", "OB1"}
    np.testing.assert_array_equal(img.traces["OB0"][0], [100.0, 101.0, 102.0])
    bad = good.copy()
    bad[0, 1] = np.nan
    bad[2, 0] = -3
    path = _fake_doves(bad)
    with pytest.raises(ReaderError, match="finite") as err:
        read_doves(path)
    assert "observer=OB0,fixation=1" in str(err.value)
    acc = Accounting()
    img = read_doves(path, options=ReadOptions(on_error="skip"), accounting=acc)
    assert len(img.fixations) == 0
    assert acc.dropped_by_reason() == {"non-finite coordinate": 2, "negative duration": 2}
