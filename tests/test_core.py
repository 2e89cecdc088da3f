"""The foundation: registry, units, atomic I/O, fixation table schema, CLI shell."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency.errors import ConfigError, SchemaError, UnknownNameError
from saliency.fixations import DatasetMeta, FixationTable, StimulusInfo
from saliency.io import atomic_write, sha256_file
from saliency.registry import Registry
from saliency.units import ViewingGeometry, sigma_px


def test_registry_unknown_name_lists_known_names():
    reg: Registry = Registry("block")
    reg.add("se", object)
    reg.add("cbam", object)
    with pytest.raises(UnknownNameError, match=r"unknown block 'nope'; known: cbam, se"):
        reg.get("nope")
    with pytest.raises(ValueError, match="twice"):
        reg.add("se", object)


def test_pixels_per_degree_from_geometry():
    # 1920 px over 53 cm at 60 cm: 1° spans 2·60·tan(0.5°) cm
    g = ViewingGeometry(1920, 1080, 53.0, 30.0, 60.0)
    expected = 2 * 60 * math.tan(math.radians(0.5)) * 1920 / 53.0
    assert g.pixels_per_degree == pytest.approx(expected)
    assert sigma_px(1.0, "dva", g.pixels_per_degree) == pytest.approx(expected)
    assert sigma_px(24, "px", None) == 24.0
    with pytest.raises(ConfigError, match="pixels per degree"):
        sigma_px(1.0, "dva", None)


@settings(max_examples=50)
@given(st.floats(0, 1919), st.floats(0, 1079))
def test_px_dva_round_trip(x, y):
    g = ViewingGeometry(1920, 1080, 53.0, 30.0, 60.0)
    xd, yd = g.px_to_dva(x, y)
    x2, y2 = g.dva_to_px(xd, yd)
    assert x2 == pytest.approx(x, abs=1e-9) and y2 == pytest.approx(y, abs=1e-9)


def test_geometry_rejects_nonsense():
    with pytest.raises(ConfigError, match="distance_cm"):
        ViewingGeometry(800, 600, 40.0, 30.0, -1.0)
    with pytest.raises(ConfigError, match="ppd_override"):
        ViewingGeometry(800, 600)


def _table(xs, ys, durations=None) -> FixationTable:
    n = len(xs)
    df = pd.DataFrame({
        "dataset": "toy", "stimulus": "a.jpg", "observer": [f"s{i % 2}" for i in range(n)],
        "trial": 0, "index": list(range(n)), "x": xs, "y": ys, "t_start_ms": np.arange(n) * 300.0,
        "duration_ms": durations if durations is not None else [250.0] * n, "eye": "unknown",
        "source": [f"toy.csv:{i + 2}" for i in range(n)],
    })
    meta = DatasetMeta("toy", {"a.jpg": StimulusInfo("a.jpg", 40, 30)}, pixels_per_degree=10.0)
    return FixationTable.from_frame(df, meta)


def test_fixation_table_round_trip_is_byte_identical(tmp_path):
    t = _table([1.5, 20.0, 39.9], [0.0, 15.0, 29.5])
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    t.write_parquet(a)
    t.write_parquet(b)
    assert sha256_file(a) == sha256_file(b)
    back = FixationTable.read_parquet(a)
    pd.testing.assert_frame_equal(back.data, t.data)
    assert back.meta == t.meta


@pytest.mark.parametrize(
    ("xs", "ys", "durations", "message"),
    [
        ([np.nan], [1.0], None, "x and y must be finite"),
        ([40.0], [1.0], None, "fixation lies outside the stimulus"),
        ([1.0], [-0.1], None, "fixation lies outside the stimulus"),
        ([1.0], [1.0], [-5.0], "duration_ms must not be negative"),
    ],
)
def test_fixation_table_rejects_bad_rows_naming_the_source(xs, ys, durations, message):
    with pytest.raises(SchemaError, match=rf"toy.csv:2: {message}"):
        _table(xs, ys, durations)


def test_fixation_table_rejects_unknown_stimulus():
    t = _table([1.0], [1.0])
    df = t.data.assign(stimulus="b.jpg")
    with pytest.raises(SchemaError, match="not listed in the dataset metadata"):
        FixationTable.from_frame(df, t.meta)


def test_select_stimuli_keeps_only_their_rows_and_metadata():
    t = _table([1.0, 2.0], [1.0, 2.0])
    two = FixationTable.from_frame(pd.concat([t.data, t.data.assign(stimulus="b.jpg")]),
                                   DatasetMeta("toy", {**t.meta.stimuli, "b.jpg": StimulusInfo("b.jpg", 40, 30)}))
    only_b = two.select_stimuli(["b.jpg"])
    assert set(only_b.data["stimulus"]) == {"b.jpg"} and len(only_b) == 2
    assert list(only_b.meta.stimuli) == ["b.jpg"]
    with pytest.raises(KeyError, match=r"c\.jpg"):
        two.select_stimuli(["c.jpg"])


def test_read_parquet_without_metadata_is_a_schema_error(tmp_path):
    p = tmp_path / "plain.parquet"
    _table([1.0], [1.0]).data.to_parquet(p)
    with pytest.raises(SchemaError, match=r"no 'saliency\.meta' metadata"):
        FixationTable.read_parquet(p)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(p, "w") as fh:
        fh.write("new")
        raise RuntimeError("boom")
    assert p.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["f.txt"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "saliency", *args], capture_output=True, text=True)


def test_cli_version_and_help():
    r = _cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("saliency ")
    r = _cli("--help")
    assert r.returncode == 0 and "Usage" in r.stdout


def test_cli_unknown_command_is_usage_error():
    assert _cli("no-such-command").returncode == 2


def test_atomic_write_gives_files_the_umask_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        p = tmp_path / "g.txt"
        with atomic_write(p, "w") as fh:
            fh.write("x")
        assert (p.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(umask)


def test_the_quick_exit_is_not_taken_under_a_profiler_or_tracer():
    """`python -m cProfile -m saliency …` and coverage tools write their results after the program returns."""
    import sys

    from saliency.cli import common

    common.allow_quick_exit()
    try:
        assert common.quick_exit_allowed() == (sys.gettrace() is None and sys.getprofile() is None)
        sys.setprofile(lambda *a: None)
        assert not common.quick_exit_allowed()
    finally:
        sys.setprofile(None)
        common._QUICK_EXIT["allowed"] = False
