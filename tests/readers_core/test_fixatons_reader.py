"""FixaTons reader: real MIT1003 files (subset fast, all 1003 slow), origin, parse errors, accounting."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers_core import write_fixatons
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saliency.errors import ReaderError
from saliency.fixations.accounting import Accounting
from saliency.readers.base import ReadOptions
from saliency.readers.fixatons import read_fixatons

SUBSET = 12


def _count_lines(scan_root: Path, stems: list[str]) -> int:
    return sum(sum(1 for ln in f.read_text().splitlines() if ln.strip())
               for s in stems for f in (scan_root / s).iterdir())


@pytest.fixture(scope="module")
def mit_subset(datasets_dir: Path, tmp_path_factory) -> tuple[Path, list[str]]:
    """A FixaTons root with the first SUBSET real MIT1003 stimuli (symlinks, nothing copied)."""
    src = datasets_dir / "mit1003"
    stems = sorted(os.listdir(src / "SCANPATHS"))[:SUBSET]
    root = tmp_path_factory.mktemp("mit_subset")
    (root / "STIMULI").mkdir()
    (root / "SCANPATHS").mkdir()
    for s in stems:
        (root / "STIMULI" / f"{s}.jpeg").symlink_to(src / "STIMULI" / f"{s}.jpeg")
        (root / "SCANPATHS" / s).symlink_to(src / "SCANPATHS" / s)
    return root, stems


def test_mit1003_subset_reads_every_observer_and_accounts_every_line(mit_subset) -> None:
    root, stems = mit_subset
    acc = Accounting()
    table = read_fixatons(root, ReadOptions(), acc)
    assert table.data["stimulus"].nunique() == SUBSET
    assert table.data.groupby("stimulus")["observer"].nunique().eq(15).all()
    d = acc.to_dict()
    assert d["kept"] + d["dropped"] == _count_lines(root / "SCANPATHS", stems)
    assert len(d["files"]) == 15 * SUBSET


def test_mit1003_first_line_is_converted_from_one_based_seconds(mit_subset) -> None:
    root, stems = mit_subset
    table = read_fixatons(root)
    f = root / "SCANPATHS" / stems[0] / "CNG"
    x, y, t0, t1 = np.loadtxt(f, ndmin=2)[0]
    row = table.data[(table.data.stimulus == f"{stems[0]}.jpeg") & (table.data.observer == "CNG")].iloc[0]
    assert (row.x, row.y) == (x - 1, y - 1)
    assert row.t_start_ms == pytest.approx(t0 * 1000) and row.duration_ms == pytest.approx((t1 - t0) * 1000)
    assert row["index"] == 0 and row.source == f"{f}:1"
    zero = read_fixatons(root, origin=0)
    assert zero.data[zero.data.source == f"{f}:1"].iloc[0].x == x


@pytest.mark.slow
def test_mit1003_full_dataset_all_1003_stimuli(datasets_dir: Path) -> None:
    root = datasets_dir / "mit1003"
    acc = Accounting()
    table = read_fixatons(root, ReadOptions(), acc)
    assert len(table.meta.stimuli) == 1003 and table.data["stimulus"].nunique() == 1003
    assert table.data.groupby("stimulus")["observer"].nunique().eq(15).all()
    stems = sorted(os.listdir(root / "SCANPATHS"))
    d = acc.to_dict()
    assert d["kept"] + d["dropped"] == _count_lines(root / "SCANPATHS", stems) == 119432
    assert d["dropped_by_reason"] == {"outside stimulus": 236}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_obs=st.lists(st.integers(0, 8), min_size=1, max_size=3), seed=st.integers(0, 2**31 - 1),
       origin=st.sampled_from([0, 1]))
def test_fixatons_round_trip(tmp_path_factory, n_obs: list[int], seed: int, origin: int) -> None:
    rng = np.random.default_rng(seed)
    root = tmp_path_factory.mktemp("fxt")
    sizes = {f"im{i}": (30 + 5 * i, 20 + 2 * i) for i in range(len(n_obs))}
    scan = {}
    for (stem, (w, h)), n in zip(sizes.items(), n_obs, strict=True):
        t0 = np.sort(rng.integers(0, 3000, n)) / 1000
        scan[stem] = {"obsA": np.column_stack([rng.integers(origin, w + origin, n), rng.integers(origin, h + origin, n),
                                               t0, t0 + rng.integers(0, 500, n) / 1000])}
    write_fixatons(root, scan, sizes)
    acc = Accounting()
    table = read_fixatons(root, ReadOptions(), acc, origin=origin, dataset="toy")
    assert len(table) == sum(n_obs) == acc.total_kept
    for stem, obs in scan.items():
        rows = table.data[table.data.stimulus == f"{stem}.jpeg"]
        a = obs["obsA"]
        np.testing.assert_allclose(rows["x"], a[:, 0] - origin)
        np.testing.assert_allclose(rows["y"], a[:, 1] - origin)
        np.testing.assert_allclose(rows["t_start_ms"], a[:, 2] * 1000)
        np.testing.assert_allclose(rows["duration_ms"], (a[:, 3] - a[:, 2]) * 1000, atol=1e-9)


def _toy(tmp_path: Path, text: str | bytes) -> Path:
    write_fixatons(tmp_path, {}, {"im": (50, 40)})
    p = tmp_path / "SCANPATHS" / "im" / "obs"
    p.parent.mkdir(parents=True)
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_malformed_line_raises_with_line_number_or_is_counted(tmp_path: Path) -> None:
    p = _toy(tmp_path, "10 10 0.0 0.2\n\n11 12 oops 0.5\n12 12 0.6\n13 13 0.7 0.9\n")
    with pytest.raises(ReaderError, match="oops") as info:
        read_fixatons(tmp_path)
    assert (info.value.path, info.value.line) == (str(p), 3)
    acc = Accounting()
    table = read_fixatons(tmp_path, ReadOptions(on_error="skip"), acc)
    assert table.data["source"].tolist() == [f"{p}:1", f"{p}:5"]
    assert acc.to_dict()["files"][str(p)]["dropped"] == {"malformed record": 2}
    assert acc.to_dict()["files"][str(p)]["examples"]["malformed record"].startswith("line 3:")


def test_negative_duration_nan_and_outside_are_counted(tmp_path: Path) -> None:
    p = _toy(tmp_path, "10 10 0.5 0.2\nnan 3 0.0 0.1\n60 3 0.2 0.3\n0 3 0.4 0.5\n5 5 1 1.2\n")
    with pytest.raises(ReaderError, match="duration") as info:
        read_fixatons(tmp_path)
    assert info.value.line == 1
    acc = Accounting()
    table = read_fixatons(tmp_path, ReadOptions(on_error="skip"), acc)
    assert len(table) == 1
    assert acc.to_dict()["files"][str(p)]["dropped"] == {
        "negative duration": 1, "non-finite coordinate": 1, "outside stimulus": 2}
    acc = Accounting()
    table = read_fixatons(tmp_path, ReadOptions(on_error="skip", out_of_stimulus="clip"), acc)
    assert len(table) == 3 and acc.total_kept + acc.total_dropped == 5


def test_empty_file_gives_no_rows_and_wrong_encoding_names_the_file(tmp_path: Path) -> None:
    p = _toy(tmp_path, "")
    table = read_fixatons(tmp_path)
    assert len(table) == 0 and len(table.meta.stimuli) == 1
    p.write_bytes("10 10 0 0.1\n\xff\xfe".encode("latin-1"))
    with pytest.raises(ReaderError, match="cannot decode as utf-8") as info:
        read_fixatons(tmp_path)
    assert info.value.path == str(p)


def test_scanpath_folder_without_image_is_unknown_stimulus(tmp_path: Path) -> None:
    _toy(tmp_path, "10 10 0 0.1\n")
    q = tmp_path / "SCANPATHS" / "ghost" / "obs"
    q.parent.mkdir()
    q.write_text("1 1 0 0.1\n2 2 0.2 0.3\n")
    with pytest.raises(ReaderError, match="ghost"):
        read_fixatons(tmp_path)
    acc = Accounting()
    assert len(read_fixatons(tmp_path, ReadOptions(on_error="skip"), acc)) == 1
    assert acc.to_dict()["files"][str(q)]["dropped"] == {"unknown stimulus": 2}
