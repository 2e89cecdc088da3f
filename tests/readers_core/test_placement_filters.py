"""Screen → stimulus placement and the table filters (drop first fixation, duration, time window)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from saliency.errors import ConfigError
from saliency.fixations.accounting import Accounting
from saliency.fixations.filters import drop_first_fixation, filter_duration, filter_time_window
from saliency.fixations.placement import StimulusPlacement
from saliency.fixations.table import DatasetMeta, FixationTable, StimulusInfo


def test_centered_800x600_on_1024x768_has_offset_112_84() -> None:
    p = StimulusPlacement.centered(1024, 768, 800, 600)
    assert p == StimulusPlacement(112.0, 84.0, 1.0, 1.0)
    x, y = p.screen_to_stimulus(np.array([112.0, 912.0]), np.array([84.0, 684.0]))
    assert x.tolist() == [0.0, 800.0] and y.tolist() == [0.0, 600.0]


def test_fit_letterboxes_and_maps_edges_to_edges() -> None:
    p = StimulusPlacement.fit(1280, 1024, 562, 762)  # the Tobii fixture's image on its screen
    assert p.scale_x == p.scale_y == pytest.approx(1024 / 762)
    x, y = p.stimulus_to_screen(np.array([0.0, 562.0]), np.array([0.0, 762.0]))
    assert y.tolist() == pytest.approx([0.0, 1024.0])
    assert (x[0] + x[1]) / 2 == pytest.approx(640.0)


@given(ox=st.floats(-500, 500), oy=st.floats(-500, 500), sx=st.floats(0.1, 4), sy=st.floats(0.1, 4),
       x=st.floats(-2000, 2000), y=st.floats(-2000, 2000))
def test_screen_stimulus_round_trip(ox: float, oy: float, sx: float, sy: float, x: float, y: float) -> None:
    p = StimulusPlacement(ox, oy, sx, sy)
    xs, ys = p.stimulus_to_screen(*p.screen_to_stimulus(np.array([x]), np.array([y])))
    np.testing.assert_allclose([xs[0], ys[0]], [x, y], atol=1e-9 * (1 + abs(x) + abs(y)) + 1e-9)


@pytest.mark.parametrize("text, expected", [("10,20", (10, 20, 1, 1)), ("10,20,2", (10, 20, 2, 2)),
                                            ("1,2,3,4", (1, 2, 3, 4))])
def test_placement_from_string(text: str, expected: tuple) -> None:
    assert StimulusPlacement.from_string(text) == StimulusPlacement(*map(float, expected))


@pytest.mark.parametrize("text", ["", "1", "a,b", "1,2,0", "1,2,3,4,5", "1,2,-1"])
def test_bad_placement_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        StimulusPlacement.from_string(text)


def _table() -> FixationTable:
    n = 6
    df = pd.DataFrame({
        "dataset": "d", "stimulus": ["a.png"] * n, "observer": ["o1"] * 3 + ["o2"] * 3, "trial": 0,
        "index": [0, 1, 2, 1, 2, 3], "x": 1.0, "y": 1.0,
        "t_start_ms": [0.0, 300, 900, np.nan, 2500, 3200], "duration_ms": [250.0, 50, np.nan, 100, 900, 200],
        "eye": "unknown", "source": [f"f{o}:{i}" for o, i in [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]],
    })
    return FixationTable.from_frame(df, DatasetMeta("d", {"a.png": StimulusInfo("a.png", 10, 10)}))


def test_drop_first_fixation_uses_source_index_and_moves_counts() -> None:
    acc = Accounting()
    acc.kept("f1", 3)
    acc.kept("f2", 3)
    out = drop_first_fixation(_table(), accounting=acc)
    assert out.data["index"].tolist() == [1, 2, 1, 2, 3]  # o2's first fixation was already gone
    assert acc.total_kept == 5 and acc.to_dict()["files"]["f1"]["dropped"] == {"first fixation": 1}


def test_filter_duration_and_window() -> None:
    t = _table()
    assert len(filter_duration(t, min_ms=80)) == 5  # 50 dropped, NaN kept
    assert len(filter_duration(t, min_ms=80, keep_unknown=False)) == 4
    assert filter_duration(t, max_ms=300).data["duration_ms"].max() == 250
    w = filter_time_window(t, 0, 3000)
    assert sorted(w.data["t_start_ms"].fillna(-1).tolist()) == [-1, 0, 300, 900, 2500]
    with pytest.raises(ConfigError):
        filter_duration(t, min_ms=10, max_ms=5)


@given(index=st.lists(st.integers(0, 5), min_size=0, max_size=30), n=st.integers(0, 3),
       lo=st.one_of(st.none(), st.floats(0, 500)), hi=st.one_of(st.none(), st.floats(500, 1000)))
def test_filters_keep_the_accounting_total(index: list[int], n: int, lo: float | None, hi: float | None) -> None:
    k = len(index)
    df = pd.DataFrame({"dataset": "d", "stimulus": "a.png", "observer": [f"o{i % 3}" for i in range(k)], "trial": 0,
                       "index": index, "x": 1.0, "y": 1.0, "t_start_ms": np.arange(k) * 100.0,
                       "duration_ms": (np.arange(k) * 97.0) % 1000, "eye": "unknown",
                       "source": [f"f{i % 2}:{i}" for i in range(k)]})
    table = FixationTable.from_frame(df, DatasetMeta("d", {"a.png": StimulusInfo("a.png", 10, 10)}))
    acc = Accounting()
    for i in range(k):
        acc.kept(f"f{i % 2}")
    out = filter_duration(drop_first_fixation(table, n, accounting=acc), lo, hi, accounting=acc)
    assert acc.total_kept == len(out) and acc.total_kept + acc.total_dropped == k
    assert (out.data["index"] >= n).all()
