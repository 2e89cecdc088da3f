"""NUS/OSIE reader: real OSIE file, 1-based → 0-based conversion, accounting, malformed records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from helpers_core import write_nus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saliency.errors import ReaderError
from saliency.fixations.accounting import Accounting
from saliency.readers.base import ReadOptions
from saliency.readers.nus import read_nus


@pytest.fixture(scope="module")
def osie(datasets_dir: Path):
    acc = Accounting()
    return read_nus(datasets_dir / "osie", ReadOptions(), acc), acc


def test_osie_has_all_700_stimuli_and_15_observers(osie, datasets_dir: Path) -> None:
    table, _ = osie
    assert len(table.meta.stimuli) == 700
    assert table.data["stimulus"].nunique() == 700
    assert table.observers() == [f"s{j:02d}" for j in range(1, 16)]
    assert {(s.width_px, s.height_px) for s in table.meta.stimuli.values()} == {(800, 600)}
    assert table.meta.stimuli["1001.jpg"].path == str(datasets_dir / "osie" / "stimuli" / "1001.jpg")


def test_osie_every_source_fixation_is_accounted(osie, datasets_dir: Path) -> None:
    table, acc = osie
    mat = scipy.io.loadmat(datasets_dir / "osie" / "fixations.mat", squeeze_me=True, struct_as_record=False)
    n_source = sum(np.atleast_1d(s.fix_x).size for e in mat["fixations"] for s in np.atleast_1d(e.subjects))
    d = acc.to_dict()
    assert d["kept"] + d["dropped"] == n_source == 98321
    assert d["kept"] == len(table)


def test_osie_coordinates_are_matlab_minus_one(osie, datasets_dir: Path) -> None:
    table, _ = osie
    mat = scipy.io.loadmat(datasets_dir / "osie" / "fixations.mat", squeeze_me=True, struct_as_record=False)
    first = mat["fixations"][0]
    s3 = np.atleast_1d(first.subjects)[2]
    rows = table.data[(table.data.stimulus == first.img) & (table.data.observer == "s03")]
    np.testing.assert_array_equal(rows["x"].to_numpy(), np.atleast_1d(s3.fix_x) - 1.0)
    np.testing.assert_array_equal(rows["y"].to_numpy(), np.atleast_1d(s3.fix_y) - 1.0)
    np.testing.assert_array_equal(rows["duration_ms"].to_numpy(), np.atleast_1d(s3.fix_duration))
    assert rows["index"].tolist() == list(range(len(rows)))
    assert rows["t_start_ms"].isna().all()
    assert rows["source"].iat[0].endswith("[fixations(1).subjects(3).fix(1)]")


def _subject(n: int, rng: np.random.Generator, w: int, h: int) -> dict:
    return {"fix_x": rng.uniform(1, w, n).round(1), "fix_y": rng.uniform(1, h, n).round(1),
            "fix_duration": rng.integers(20, 900, n).astype(float)}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=4), min_size=1, max_size=3),
       seed=st.integers(0, 2**31 - 1))
def test_nus_round_trip(tmp_path_factory, counts: list[list[int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    root = tmp_path_factory.mktemp("nus")
    sizes = {f"{i}.png": (40 + 7 * i, 30 + 3 * i) for i in range(len(counts))}
    scan = {name: [_subject(n, rng, *sizes[name]) for n in subj] for name, subj in zip(sizes, counts, strict=True)}
    write_nus(root, scan, sizes)
    acc = Accounting()
    table = read_nus(root, ReadOptions(), acc, dataset="toy")
    assert len(table) == sum(map(sum, counts)) == acc.total_kept
    for name, subjects in scan.items():
        for j, s in enumerate(subjects, start=1):
            rows = table.data[(table.data.stimulus == name) & (table.data.observer == f"s{j:02d}")]
            np.testing.assert_allclose(rows["x"], s["fix_x"] - 1)
            np.testing.assert_allclose(rows["y"], s["fix_y"] - 1)
            np.testing.assert_allclose(rows["duration_ms"], s["fix_duration"])


def test_nus_negative_duration_raises_with_record_or_is_counted(tmp_path: Path) -> None:
    s = {"fix_x": [5.0, 6.0, 7.0], "fix_y": [5.0, 6.0, 7.0], "fix_duration": [100.0, -5.0, 80.0]}
    write_nus(tmp_path, {"a.png": [s]}, {"a.png": (20, 20)})
    with pytest.raises(ReaderError, match=r"fixations\(1\)\.subjects\(1\)\.fix\(2\).*≥ 0") as info:
        read_nus(tmp_path)
    assert info.value.record == "fixations(1).subjects(1).fix(2)"
    acc = Accounting()
    table = read_nus(tmp_path, ReadOptions(on_error="skip"), acc)
    assert len(table) == 2
    assert acc.dropped_by_reason() == {"negative duration": 1}


def test_nus_nan_is_dropped_and_outside_is_dropped_or_clipped(tmp_path: Path) -> None:
    s = {"fix_x": [5.0, np.nan, 25.0, 3.0], "fix_y": [5.0, 6.0, 7.0, 0.5], "fix_duration": [1.0, 2.0, 3.0, 4.0]}
    write_nus(tmp_path, {"a.png": [s]}, {"a.png": (20, 20)})
    acc = Accounting()
    table = read_nus(tmp_path, ReadOptions(), acc)
    assert len(table) == 1
    assert acc.dropped_by_reason() == {"non-finite coordinate": 1, "outside stimulus": 2}
    acc = Accounting()
    table = read_nus(tmp_path, ReadOptions(out_of_stimulus="clip"), acc)
    assert len(table) == 3 and acc.total_dropped == 1
    assert table.data["x"].max() < 20 and table.data["y"].min() == 0.0
    assert acc.to_dict()["files"][str(tmp_path / "fixations.mat")]["noted"] == {"clipped into stimulus": 2}


def test_nus_unknown_stimulus_raises_or_is_counted(tmp_path: Path) -> None:
    s = {"fix_x": [5.0], "fix_y": [5.0], "fix_duration": [1.0]}
    write_nus(tmp_path, {"a.png": [s], "missing.png": [s, s]}, {"a.png": (20, 20)})
    with pytest.raises(ReaderError, match=r"missing\.png"):
        read_nus(tmp_path)
    acc = Accounting()
    assert len(read_nus(tmp_path, ReadOptions(on_error="skip"), acc)) == 1
    assert acc.dropped_by_reason() == {"unknown stimulus": 2}


def test_nus_garbage_file_and_wrong_variable_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "stimuli").mkdir()
    from helpers_core import write_image

    write_image(tmp_path / "stimuli" / "a.png", 10, 10)
    (tmp_path / "fixations.mat").write_bytes(b"\x00\xffnot a mat file" * 20)
    with pytest.raises(ReaderError, match=r"fixations\.mat"):
        read_nus(tmp_path)
    scipy.io.savemat(tmp_path / "fixations.mat", {"other": np.zeros(3)})
    with pytest.raises(ReaderError, match=r"no variable 'fixations' \(found \['other'\]\)"):
        read_nus(tmp_path)


def test_nus_mismatched_lengths_are_a_bad_record(tmp_path: Path) -> None:
    s = {"fix_x": [5.0, 6.0], "fix_y": [5.0], "fix_duration": [1.0, 2.0]}
    write_nus(tmp_path, {"a.png": [s]}, {"a.png": (20, 20)})
    with pytest.raises(ReaderError, match=r"subjects\(1\).*lengths 2, 1, 2"):
        read_nus(tmp_path)
    acc = Accounting()
    assert len(read_nus(tmp_path, ReadOptions(on_error="skip"), acc)) == 0
    assert acc.dropped_by_reason() == {"malformed record": 2}
