"""Fixation selection: the text form, the rule per scanpath, and its trip through shards → baselines → metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saliency.errors import ConfigError
from saliency.fixations.selection import FixationSelection, parse_selection
from saliency.fixations.table import FixationTable
from saliency.maps.options import MapOptions


def _rows() -> pd.DataFrame:
    """Two scanpaths: A with 8 fixations 300 ms apart, B with 3 (indices 0..2)."""
    n_a, n_b = 8, 3
    return pd.DataFrame({
        "stimulus": ["s"] * (n_a + n_b), "observer": ["A"] * n_a + ["B"] * n_b, "trial": 0,
        "index": list(range(n_a)) + list(range(n_b)),
        "t_start_ms": [300.0 * i for i in range(n_a)] + [np.nan, 250.0, 700.0],
    })


@pytest.mark.parametrize("spec, expected", [
    ("all", FixationSelection()),
    ("drop-first", FixationSelection(start_index=1)),
    ("index=1:6,min-length=6", FixationSelection(1, 6, min_length=6)),
    ("max=5, window=0:1500ms", FixationSelection(max_per_scanpath=5, start_ms=0.0, end_ms=1500.0)),
    ("index=:4", FixationSelection(stop_index=4)),
])
def test_text_form_round_trips(spec: str, expected: FixationSelection) -> None:
    sel = parse_selection(spec)
    assert sel == expected
    assert parse_selection(sel.describe()) == sel
    assert FixationSelection.from_dict(sel.to_dict()) == sel


@pytest.mark.parametrize("spec", ["index=3:3", "max=0", "window=5:1", "first", "index=a:2", "colour=red"])
def test_bad_text_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_selection(spec)


def test_rules_per_scanpath() -> None:
    rows = _rows()

    def obs_idx(sel: FixationSelection) -> list[tuple[str, int]]:
        kept = rows[sel.mask(rows)]
        return list(zip(kept["observer"], kept["index"], strict=True))

    assert obs_idx(parse_selection("drop-first")) == [("A", i) for i in range(1, 8)] + [("B", 1), ("B", 2)]
    # the authors' MIT1003 rule: fixations 2..6 of observers with at least 6 fixations
    assert obs_idx(parse_selection("index=1:6,min-length=6")) == [("A", i) for i in range(1, 6)]
    # the first 2 left after dropping the first one, per scanpath
    assert obs_idx(parse_selection("drop-first,max=2")) == [("A", 1), ("A", 2), ("B", 1), ("B", 2)]
    # onsets in [600, 1500): NaN onsets leave with any window
    assert obs_idx(parse_selection("window=600:1500")) == [("A", 2), ("A", 3), ("A", 4), ("B", 2)]
    # max counts by index even when rows come shuffled
    shuffled = rows.sample(frac=1.0, random_state=0)
    kept = shuffled[parse_selection("max=1").mask(shuffled)]
    assert sorted(kept["index"]) == [0, 0]


def test_selection_is_idempotent() -> None:
    rows = _rows()
    for spec in ("drop-first,max=3", "index=1:6,min-length=6", "window=0:1000,max=2"):
        sel = parse_selection(spec)
        once = sel.apply(rows)
        assert sel.apply(once).equals(once)


def test_drop_first_flag_folds_into_selection() -> None:
    assert MapOptions(drop_first=True).effective_selection == FixationSelection(start_index=1)
    assert MapOptions(drop_first=True, selection="index=2:5").effective_selection == FixationSelection(2, 5)
    assert MapOptions(selection="max=5").to_dict()["selection"]["max_per_scanpath"] == 5
    assert MapOptions.from_dict(MapOptions(selection="max=5").to_dict()) == MapOptions(selection="max=5")


def test_card_conventions_resolve() -> None:
    from saliency.ingest import load_card, resolve_selection

    assert resolve_selection("benchmark", "mit1003") == FixationSelection(start_index=1)
    assert resolve_selection("authors", "mit1003") == FixationSelection(1, 6)
    assert resolve_selection("drop-first,max=5", "mit1003").max_per_scanpath == 5
    with pytest.raises(ConfigError, match="no dataset card"):
        resolve_selection("benchmark", "no-such-dataset")
    for name in ("mit1003", "osie"):
        assert {"benchmark", "authors"} <= set(load_card(name).conventions)


def test_shards_store_the_selection_and_metrics_use_it(osie_small: FixationTable, tmp_path: Path) -> None:
    from saliency.shards import build_shards, open_shards

    table = osie_small.select_stimuli(osie_small.stimuli()[:2])
    sel = parse_selection("drop-first,max=3")
    build_shards(table, tmp_path / "sel", MapOptions(sigma=10.0, selection=sel))
    build_shards(table, tmp_path / "all", MapOptions(sigma=10.0))
    s_sel, s_all = open_shards(tmp_path / "sel"), open_shards(tmp_path / "all")
    assert s_sel.meta["options"]["selection"] == sel.to_dict()
    assert s_sel.selection == sel and s_all.selection.keeps_all
    assert len(s_sel.all_fixations) == len(s_all.fixations) == len(table)
    kept = sel.mask(table.data)
    assert len(s_sel.fixations) == int(kept.sum()) < len(table)
    stim = table.stimuli()[0]
    gt = s_sel.load(stim)
    assert (gt.fixations["index"] >= 1).all() and gt.fixations.groupby("observer").size().max() <= 3
    assert int(s_sel.manifest.set_index("stimulus").at[stim, "n_fixations_used"]) == len(gt.fixations)
    assert not np.allclose(gt.density, s_all.load(stim).density)
    # a metric scored on the selected shards sees only the selected fixations
    from saliency.metrics.evaluation import evaluate

    res = evaluate({s: s_sel.density(s) for s in s_sel.stimuli}, s_sel, metrics=["nss"])
    assert res.per_image["n_fixations"].sum() == int(kept.sum())


def test_cli_maps_select(osie_small: FixationTable, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from saliency.cli.app import main

    table = osie_small.select_stimuli(osie_small.stimuli()[:1])
    table.write_parquet(tmp_path / "fix.parquet")
    for spec, expected in (("drop-first,max=3", "drop-first,max=3"), ("benchmark", "all")):  # osie card: all
        with pytest.raises(SystemExit) as exc:
            main(["maps", str(tmp_path / "fix.parquet"), "--out", str(tmp_path / spec), "--sigma", "8",
                  "--select", spec, "--json"])
        assert exc.value.code == 0
        assert json.loads(capsys.readouterr().out)["selection"] == expected
    with pytest.raises(SystemExit) as exc:
        main(["maps", str(tmp_path / "fix.parquet"), "--out", str(tmp_path / "bad"), "--select", "index=4:2"])
    assert exc.value.code == 3
