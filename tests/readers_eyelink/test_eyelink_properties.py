"""Property tests of the ASC reader: synthetic round trip, garbage lines, bad values, truncation, encodings."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saliency.errors import ReaderError
from saliency.fixations.accounting import MALFORMED, NEGATIVE_DURATION, NON_FINITE, Accounting
from saliency.readers.base import ReadOptions
from saliency.readers.eyelink import LINE_SKIPPED, read_asc

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

fixation = st.tuples(st.integers(5, 200),        # gap before (ms)
                     st.integers(20, 600),       # duration (ms)
                     st.integers(0, 12790),      # x · 10 (px)
                     st.integers(0, 10230))      # y · 10 (px)
trial = st.tuples(st.sampled_from(["a.jpg", "b.png", "ç d.jpg"]), st.integers(-50, 300), st.integers(-50, 300),
                  st.lists(fixation, min_size=0, max_size=5))
recording = st.lists(trial, min_size=1, max_size=4)


def write_asc(trials, rate_hz: int = 1000) -> tuple[str, list[dict]]:
    """A minimal but complete monocular ASC text and the fixations it should read back as."""
    step = 1000 // rate_hz if rate_hz <= 1000 else 0.5
    lines = ["** CONVERTED FROM synthetic.edf", "** DATE: today", "**", "",
             "MSG\t1000 DISPLAY_COORDS 0 0 1279 1023"]
    t = 2000.0
    expected = []
    for i, (stim, ox, oy, fixes) in enumerate(trials):
        lines.append(f"MSG\t{t:.0f} TRIALID T{i}")
        t += 10
        lines += [f"START\t{t:.0f} \tLEFT\tSAMPLES\tEVENTS",
                  f"SAMPLES\tGAZE\tLEFT\tRATE\t{rate_hz:.2f}\tTRACKING\tCR\tFILTER\t2"]
        t += 10
        onset = t
        lines.append(f"MSG\t{t:.0f} 0 !V IMGLOAD TOP_LEFT images/{stim} {ox} {oy}")
        for k, (gap, dur, x10, y10) in enumerate(fixes):
            t += gap
            x, y = x10 / 10, y10 / 10
            lines.append(f"{t:g}\t  {x:.1f}\t  {y:.1f}\t  800.0\t...")
            lines.append(f"SFIX L   {t:g}")
            end = t + dur - step
            lines.append(f"{end:g}\t  {x:.1f}\t  {y:.1f}\t  800.0\t...")
            lines.append(f"EFIX L   {t:g}\t{end:g}\t{dur:g}\t  {x:.1f}\t  {y:.1f}\t    800")
            expected.append({"trial": i, "index": k, "stimulus": stim, "x": x - ox, "y": y - oy,
                             "t_start_ms": t - onset, "duration_ms": float(dur)})
            t = end + step
        t += 5
        lines += [f"END\t{t:g} \tSAMPLES\tEVENTS\tRES\t  40.00\t  40.00", f"MSG\t{t:g} TRIAL_RESULT 0"]
        t += 100
    return "\n".join(lines) + "\n", expected


def _write(text: str | bytes, name: str = "rec.asc") -> Path:
    d = Path(tempfile.mkdtemp(prefix="asc_"))
    p = d / name
    p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return p


@SETTINGS
@given(recording, st.sampled_from(["\n", "\r\n"]))
def test_round_trip_synthetic_asc(trials, newline):
    text, expected = write_asc(trials)
    rec = read_asc(_write(text.replace("\n", newline)), keep_samples=True)
    df = rec.fixations
    assert len(df) == len(expected)
    for row, exp in zip(df.to_dict("records"), expected, strict=True):
        for k, v in exp.items():
            assert row[k] == pytest.approx(v, abs=1e-9) if isinstance(v, float) else row[k] == v, (k, row, exp)
    assert [t.trial_id for t in rec.trials] == [f"T{i}" for i in range(len(trials))]
    assert sum(s.time_ms.size for s in rec.samples.values()) == 2 * len(expected)


@SETTINGS
@given(recording, st.data())
def test_garbage_line_is_reported_with_its_line_number(trials, data):
    text, expected = write_asc(trials)
    lines = text.splitlines()
    pos = data.draw(st.integers(0, len(lines)))
    word = data.draw(st.text(string.ascii_letters + string.digits + "_!", min_size=1, max_size=12))
    first = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyzXYZQW"))
    garbage = first + word + data.draw(st.text(" \t" + string.printable.strip(), max_size=30))
    lines.insert(pos, garbage)
    path = _write("\n".join(lines) + "\n")
    with pytest.raises(ReaderError) as err:
        read_asc(path)
    assert err.value.line == pos + 1 and err.value.path == str(path)
    acc = Accounting()
    rec = read_asc(path, options=ReadOptions(on_error="skip"), accounting=acc)
    assert len(rec.fixations) == len(expected)
    assert acc.to_dict()["files"][str(path)]["noted"] == {LINE_SKIPPED: 1}


@SETTINGS
@given(recording.filter(lambda r: any(t[3] for t in r)), st.data(),
       st.sampled_from(["malformed", "negative", "nan"]))
def test_bad_efix_raises_or_is_counted(trials, data, kind):
    text, expected = write_asc(trials)
    lines = text.splitlines()
    efix = [i for i, s in enumerate(lines) if s.startswith("EFIX")]
    i = data.draw(st.sampled_from(efix))
    f = lines[i].split()
    if kind == "malformed":
        lines[i] = "EFIX L " + data.draw(st.sampled_from(["", "12", "a b c d e f", f"{f[2]} {f[3]}"]))
        reason = MALFORMED
    elif kind == "negative":
        lines[i] = f"EFIX L   {f[3]}\t{f[2]}\t-{f[4]}\t{f[5]}\t{f[6]}\t800"
        reason = NEGATIVE_DURATION
    else:
        lines[i] = f"EFIX L   {f[2]}\t{f[3]}\t{f[4]}\t   .\t   .\t0"
        reason = NON_FINITE
    path = _write("\n".join(lines) + "\n")
    with pytest.raises(ReaderError) as err:
        read_asc(path)
    assert err.value.line == i + 1
    acc = Accounting()
    rec = read_asc(path, options=ReadOptions(on_error="skip"), accounting=acc)
    assert len(rec.fixations) == len(expected) - 1
    assert acc.dropped_by_reason() == {reason: 1}


@SETTINGS
@given(recording, st.data())
def test_truncated_file_reads_or_names_a_line(trials, data):
    text, _ = write_asc(trials)
    raw = text.encode()
    cut = data.draw(st.integers(0, len(raw)))
    path = _write(raw[:cut])
    n_lines = raw[:cut].count(b"\n") + 1
    for kw in ({}, {"keep_samples": True}):
        try:
            rec = read_asc(path, **kw)
        except ReaderError as exc:
            assert exc.line is not None and 1 <= exc.line <= n_lines
        else:
            assert np.isfinite(rec.fixations["x"]).all()


def test_empty_file_and_missing_file():
    with pytest.raises(ReaderError, match="empty file"):
        read_asc(_write(b""))
    with pytest.raises(ReaderError, match="empty file"):
        read_asc(_write(b"\n\n  \n"))
    with pytest.raises(ReaderError, match="no such file"):
        read_asc(Path(tempfile.mkdtemp()) / "nope.asc")


def test_latin1_stimulus_name_needs_the_encoding():
    text, _ = write_asc([("ç d.jpg", 0, 0, [(10, 100, 500, 500)])])
    raw = text.encode("latin-1")
    path = _write(raw)
    line = next(i for i, s in enumerate(text.splitlines()) if "IMGLOAD" in s) + 1
    with pytest.raises(ReaderError, match="latin-1") as err:
        read_asc(path)
    assert err.value.line == line
    rec = read_asc(path, encoding="latin-1")
    assert rec.fixations["stimulus"].tolist() == ["ç d.jpg"]


@SETTINGS
@given(recording, st.sampled_from([500, 2000]))
def test_round_trip_other_rates(trials, rate):
    text, expected = write_asc(trials, rate_hz=rate)
    rec = read_asc(_write(text), keep_samples=True)
    assert rec.sample_rate_hz == rate
    np.testing.assert_allclose(rec.fixations["t_start_ms"], [e["t_start_ms"] for e in expected])


@SETTINGS
@given(recording.filter(lambda r: any(t[3] for t in r)), st.data())
def test_malformed_sample_line_is_named_when_samples_are_parsed(trials, data):
    text, expected = write_asc(trials)
    lines = text.splitlines()
    samples = [i for i, s in enumerate(lines) if s[:1].isdigit()]
    i = data.draw(st.sampled_from(samples))
    lines[i] = lines[i].split("\t")[0] + data.draw(st.sampled_from(["\tabc\t1.0\t800.0\t...", "\t12.5", ""]))
    path = _write("\n".join(lines) + "\n")
    read_asc(path)  # events only: sample lines are not parsed
    with pytest.raises(ReaderError, match="sample line") as err:
        read_asc(path, keep_samples=True)
    assert err.value.line == i + 1
    acc = Accounting()
    rec = read_asc(path, keep_samples=True, options=ReadOptions(on_error="skip"), accounting=acc)
    assert sum(s.time_ms.size for s in rec.samples.values()) == 2 * len(expected) - 1
    assert acc.to_dict()["files"][str(path)]["noted"][LINE_SKIPPED] == 1
    assert len(rec.fixations) == len(expected)


class _Shift:
    """A duck-typed StimulusPlacement: stimulus drawn at (100, 50), scale 2."""

    def screen_to_stimulus(self, x, y):
        return (np.asarray(x) - 100) / 2, (np.asarray(y) - 50) / 2


@pytest.mark.parametrize("imgload,size,expected", [
    ("CENTER images/a.jpg 640 512", (400, 300), (640 - 200, 512 - 150, 1.0, 1.0)),
    ("CENTER images/a.jpg 640 512 800 600", (400, 300), (640 - 400, 512 - 300, 2.0, 2.0)),
    ("TOP_LEFT images/a.jpg 10 20", None, (10.0, 20.0, 1.0, 1.0)),
    ("TOP_LEFT images/a.jpg 10 20 200 300", (400, 300), (10.0, 20.0, 0.5, 1.0)),
    ("FILL images/a.jpg", (640, 512), (0.0, 0.0, 2.0, 2.0)),
])
def test_imgload_placements_and_message_offset(imgload, size, expected):
    text = "\n".join([
        "MSG\t1000 DISPLAY_COORDS 0 0 1279 1023", "MSG\t2000 TRIALID 1",
        "START\t2010 \tLEFT\tSAMPLES\tEVENTS",
        f"MSG\t2020 -11 !V IMGLOAD {imgload}",  # Data Viewer offset: the image appeared at 2031
        "EFIX L   2100\t2199\t100\t  650.0\t  530.0\t    800", "END\t2300 \tSAMPLES\tEVENTS", ""])
    rec = read_asc(_write(text), stimulus_sizes={"a.jpg": size} if size else None)
    tr = rec.trials[0]
    ox, oy, sx, sy = expected
    assert tr.placement == pytest.approx({"offset_x_px": ox, "offset_y_px": oy, "scale_x": sx, "scale_y": sy})
    assert tr.onset_ms == 2031
    row = rec.fixations.iloc[0]
    assert (row["x"], row["y"]) == pytest.approx(((650 - ox) / sx, (530 - oy) / sy))
    assert row["t_start_ms"] == 2100 - 2031


def test_placement_object_applies_without_imgload():
    text = "\n".join(["MSG\t2000 TRIALID x.png", "START\t2010 \tLEFT\tSAMPLES\tEVENTS",
                      "EFIX L   2100\t2199\t100\t  300.0\t  250.0\t    800", "END\t2300 \tSAMPLES\tEVENTS", ""])
    rec = read_asc(_write(text), stimulus_pattern=r"TRIALID (?P<stimulus>\S+)", placement=_Shift())
    assert (rec.fixations["x"].iat[0], rec.fixations["y"].iat[0]) == (100.0, 100.0)
    assert rec.fixations["t_start_ms"].iat[0] == 100.0  # onset = the stimulus message (the TRIALID)
