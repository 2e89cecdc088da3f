"""Property tests across formats: write generated fixations in a format, read back, compare; a garbage
line anywhere is reported at its exact line (raise) or counted once (skip)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers_core import write_fixatons
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saliency.errors import ReaderError
from saliency.fixations.accounting import Accounting
from saliency.readers.base import ReadOptions
from saliency.readers.dataviewer import read_dataviewer
from saliency.readers.fixatons import read_fixatons
from saliency.readers.request import ReadRequest
from saliency.readers.tobii import read_tobii

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _fixations(rng: np.random.Generator, n: int, w: int, h: int) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.integers(0, w, n).astype(float), "y": rng.integers(0, h, n).astype(float),
                         "dur": rng.integers(1, 60, n) * 10.0})


@SETTINGS
@given(counts=st.lists(st.integers(0, 6), min_size=1, max_size=4), seed=st.integers(0, 2**31 - 1),
       sep=st.sampled_from([",", "\t"]))
def test_dataviewer_round_trip(tmp_path_factory, counts: list[int], seed: int, sep: str) -> None:
    rng = np.random.default_rng(seed)
    parts = []
    for trial, n in enumerate(counts, start=1):
        f = _fixations(rng, n, 320, 240)
        f["RECORDING_SESSION_LABEL"] = "sub1"
        f["TRIAL_INDEX"] = trial
        f["IMAGE"] = f"im{trial % 2}.png"
        f["CURRENT_FIX_INDEX"] = np.arange(1, n + 1)
        f["CURRENT_FIX_START"] = np.cumsum(f["dur"]) - f["dur"]
        parts.append(f)
    df = pd.concat(parts, ignore_index=True).rename(columns={"x": "CURRENT_FIX_X", "y": "CURRENT_FIX_Y",
                                                            "dur": "CURRENT_FIX_DURATION"})
    p = tmp_path_factory.mktemp("dv") / "report.txt"
    df.to_csv(p, sep=sep, index=False)
    acc = Accounting()
    table = read_dataviewer(p, ReadRequest("dv", stimulus_size=(320, 240)), acc)
    assert len(table) == len(df) == acc.total_kept
    got = table.data.sort_values(["trial", "index"]).reset_index(drop=True)
    np.testing.assert_array_equal(got["x"], df["CURRENT_FIX_X"])
    np.testing.assert_array_equal(got["y"], df["CURRENT_FIX_Y"])
    np.testing.assert_array_equal(got["duration_ms"], df["CURRENT_FIX_DURATION"])
    np.testing.assert_array_equal(got["t_start_ms"], df["CURRENT_FIX_START"])
    np.testing.assert_array_equal(got["index"], df["CURRENT_FIX_INDEX"] - 1)
    assert got["stimulus"].tolist() == df["IMAGE"].tolist()


@SETTINGS
@given(counts=st.lists(st.integers(0, 5), min_size=1, max_size=3), seed=st.integers(0, 2**31 - 1))
def test_tobii_round_trip_from_generated_samples(tmp_path_factory, counts: list[int], seed: int) -> None:
    """Fixations → 300 Hz sample rows (Tobii Studio columns, saccade samples between) → read → same."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for pi, n in enumerate(counts):
        fx = _fixations(rng, n, 562, 762)
        t = 1000.0 * pi
        rows.append({"ParticipantName": f"{pi:02d}", "RecordingTimestamp": t, "GazeEventType": "Saccade",
                     "FixationIndex": "", "GazeEventDuration": 20})
        onset = t
        for i, r in fx.iterrows():
            t += 10
            truth.append((f"{pi:02d}", i, r.x, r.y, r.dur, t - onset))
            for k in range(int(rng.integers(1, 5))):
                rows.append({"ParticipantName": f"{pi:02d}", "RecordingTimestamp": t + 3.33 * k,
                             "GazeEventType": "Fixation", "FixationIndex": i + 1, "GazeEventDuration": r.dur,
                             "FixationPointX (MCSpx)": r.x, "FixationPointY (MCSpx)": r.y})
            t += 3.33 * 5
            rows.append({"ParticipantName": f"{pi:02d}", "RecordingTimestamp": t, "GazeEventType": "Saccade",
                         "FixationIndex": "", "GazeEventDuration": 20})
    df = pd.DataFrame(rows, columns=["ParticipantName", "RecordingTimestamp", "GazeEventType", "FixationIndex",
                                     "GazeEventDuration", "FixationPointX (MCSpx)", "FixationPointY (MCSpx)"])
    df["MediaWidth"], df["MediaHeight"] = 562, 762
    p = tmp_path_factory.mktemp("tobii") / "export.tsv"
    df.to_csv(p, sep="\t", index=False)
    acc = Accounting()
    table = read_tobii(p, ReadRequest("t", stimulus="face.png"), acc)
    assert acc.total_kept == len(truth) == len(table)
    if not truth:
        return
    got = table.data.sort_values(["observer", "index"]).reset_index(drop=True)
    exp = pd.DataFrame(truth, columns=["observer", "index", "x", "y", "dur", "t0"])
    assert got["observer"].tolist() == exp["observer"].tolist()
    assert got["index"].tolist() == exp["index"].tolist()
    np.testing.assert_allclose(got[["x", "y", "duration_ms"]].to_numpy(), exp[["x", "y", "dur"]].to_numpy())
    np.testing.assert_allclose(got["t_start_ms"], exp["t0"], atol=1e-6)


@SETTINGS
@given(n=st.integers(1, 12), where=st.integers(0, 100), garbage=st.sampled_from(["1 2 3", "a b c d", "1 2 3 4 5",
                                                                                 "1,2,3,4", "x"]))
def test_fixatons_garbage_line_is_named_or_counted_once(tmp_path_factory, n: int, where: int, garbage: str) -> None:
    root = tmp_path_factory.mktemp("fx")
    write_fixatons(root, {}, {"im": (50, 40)})
    lines = [f"{i % 50} {i % 40} {i * 0.3:.3f} {i * 0.3 + 0.2:.3f}" for i in range(1, n + 1)]
    k = where % (n + 1)
    lines.insert(k, garbage)
    p = root / "SCANPATHS" / "im" / "obs"
    p.parent.mkdir(parents=True)
    p.write_text("\n".join(lines) + "\n")
    try:
        read_fixatons(root, origin=0)
        raise AssertionError("expected a ReaderError")
    except ReaderError as exc:
        assert (exc.path, exc.line) == (str(p), k + 1)
    acc = Accounting()
    table = read_fixatons(root, ReadOptions(on_error="skip"), acc, origin=0)
    assert len(table) == n and acc.dropped_by_reason() == {"malformed record": 1}
    assert acc.total_kept + acc.total_dropped == len(lines)


@SETTINGS
@given(n=st.integers(1, 10), where=st.integers(0, 100))
def test_generic_garbage_value_is_named_at_its_line(tmp_path_factory, n: int, where: int) -> None:
    from saliency.readers.generic import read_generic

    k = where % n
    lines = ["img,x,y"] + [f"a.png,{i},{i}" if i != k else "a.png,zz,1" for i in range(n)]
    p = tmp_path_factory.mktemp("g") / "f.csv"
    p.write_text("\n".join(lines) + "\n")
    req = ReadRequest("g", columns={"x": "x", "y": "y", "stimulus": "img"}, stimulus_size=(20, 20))
    try:
        read_generic(p, req, Accounting())
        raise AssertionError("expected a ReaderError")
    except ReaderError as exc:
        assert exc.line == k + 2
    acc = Accounting()
    read_generic(p, ReadRequest(**{**req.__dict__, "options": ReadOptions(on_error="skip")}), acc)
    assert acc.total_kept == n - 1 and acc.total_dropped == 1
