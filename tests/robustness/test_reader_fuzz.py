"""Fuzz corpus over every text reader, built from the real fixtures: truncations at line ends and inside
lines, re-encodings, byte flips, header games and extreme values (docs/robustness.md lists the guarantees).

Invariants checked on every variant, under ``--on-error raise`` and ``skip``:
* the only exception is a :class:`SaliencyError` whose message names the file (no traceback);
* nothing is silently changed: every kept fixation equals the clean file's fixation from the same line;
* nothing silently vanishes: ``seen`` never exceeds the clean count, grows with every line kept, and for
  one-row-per-fixation formats equals the number of data rows the variant holds.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saliency.errors import ReaderError, SaliencyError
from tests.robustness.corpus import (
    ENCODINGS,
    TEXT_FIXTURES,
    byte_flips,
    fixture,
    lines_of,
    read_table,
    reencode,
    truncations,
)

KINDS = list(TEXT_FIXTURES)
FIXATION_KINDS = [k for k in KINDS if k != "samples"]  # the samples fixture is too short to hold fixations
MAX_CUTS = {"tobii": 6, "dataviewer": 25}


def _by_line(frame) -> dict[int, tuple]:
    out = {}
    for src, stim, x, y, d in zip(frame["source"], frame["stimulus"], frame["x"], frame["y"],
                                  frame["duration_ms"], strict=True):
        out[int(re.search(r":(\d+)$", str(src)).group(1))] = (stim, x, y, d)
    return out


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and all((math.isnan(u) and math.isnan(v)) or u == v for u, v in zip(a[1:], b[1:],
                                                                                          strict=True))


@pytest.fixture(scope="module")
def clean() -> dict[str, tuple[dict, dict]]:
    return {k: (lambda r: (r[0], _by_line(r[1])))(read_table(k, fixture(k))) for k in KINDS}


def _check(kind: str, path: Path, clean_rows: dict, clean_acc: dict, on_error: str, encoding: str = "utf-8"):
    """Read a variant; assert the invariants; the accounting (None when it raised)."""
    try:
        acc, frame = read_table(kind, path, on_error, encoding)
    except SaliencyError as exc:
        assert str(path) in str(exc), f"error does not name the file: {exc}"
        if isinstance(exc, ReaderError) and on_error == "raise" and exc.line is None and exc.record is None:
            assert "empty" in str(exc) or "file" in str(exc), f"no line/record: {exc}"
        return None
    for line, row in _by_line(frame).items():
        assert line in clean_rows and _same(row, clean_rows[line]), \
            f"{path}:{line}: kept {row}, the clean file has {clean_rows.get(line)}"
    assert acc["seen"] <= clean_acc["seen"]
    assert acc["seen"] == acc["kept"] + acc["dropped"]
    return acc


@pytest.mark.parametrize("kind", FIXATION_KINDS)
def test_truncation_never_changes_values_or_loses_count(kind, clean, tmp_path):
    data = fixture(kind).read_bytes()
    if kind == "tobii":  # 18k lines: cut within the first 3000 (its first participants' fixations)
        data = b"".join(lines_of(data)[:3000])
    clean_acc, rows = clean[kind]
    last_seen = 0
    prefix_rows: dict[int, tuple] = {}
    for label, cut in truncations(data, MAX_CUTS.get(kind, 40)):
        p = tmp_path / f"cut{fixture(kind).suffix}"
        if kind.startswith("eyelink"):
            # EyeLink trials and binocular pairs depend on the lines that follow (TRIALID, the other eye):
            # a complete-line prefix is a file of its own; a cut line may only lose records relative to it
            if label.startswith("after"):
                p.write_bytes(cut)
                try:
                    prefix_rows = _by_line(read_table(kind, p, "skip")[1])
                except SaliencyError:
                    prefix_rows = {}
                continue
            ref = dict(prefix_rows)
            whole = data[: data.index(b"\n", len(cut)) + 1] if b"\n" in data[len(cut):] else data
            p.write_bytes(whole)
            try:
                ref.update(_by_line(read_table(kind, p, "skip")[1]))
            except SaliencyError:
                pass
        else:
            ref = rows
        p.write_bytes(cut)
        for on_error in ("raise", "skip"):
            acc = _check(kind, p, ref, clean_acc, on_error)
            if acc is None or on_error == "raise":
                continue
            if label.startswith("after"):
                assert acc["seen"] >= last_seen, f"{label}: seen went down"
                last_seen = acc["seen"]
                if kind == "dataviewer":  # one row per fixation: seen = data lines held
                    assert acc["seen"] == sum(1 for v in lines_of(cut)[1:] if v.strip()), label


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("codec", ENCODINGS)
def test_every_encoding_reads_the_same(kind, codec, clean, tmp_path):
    data = fixture(kind).read_bytes()
    p = tmp_path / f"enc{fixture(kind).suffix}"
    p.write_bytes(reencode(data, codec))
    acc, frame = read_table(kind, p, "skip", "latin-1" if codec == "latin-1" else "utf-8")
    assert acc["seen"] == clean[kind][0]["seen"] and acc["dropped_by_reason"] == clean[kind][0]["dropped_by_reason"]
    assert _by_line(frame).keys() == clean[kind][1].keys()


@pytest.mark.parametrize("kind", KINDS)
def test_byte_flips_are_errors_or_accounted(kind, clean, tmp_path):
    data = fixture(kind).read_bytes()
    for label, flipped in byte_flips(data, n=4 if kind == "tobii" else 8, seed=len(kind)):
        p = tmp_path / f"flip{fixture(kind).suffix}"
        p.write_bytes(flipped)
        for on_error in ("raise", "skip"):
            try:
                read_table(kind, p, on_error)
            except SaliencyError as exc:
                assert str(p) in str(exc), (label, exc)


@pytest.mark.parametrize("kind", ["dataviewer", "tobii"])
def test_repeated_header_is_not_a_record(kind, clean, tmp_path):
    lines = lines_of(fixture(kind).read_bytes())
    body = lines[:1] + lines[1:40] + lines[:1] + lines[40:]
    p = tmp_path / f"hdr{fixture(kind).suffix}"
    p.write_bytes(b"".join(body))
    acc, _ = read_table(kind, p, "raise")
    assert acc["seen"] == clean[kind][0]["seen"]
    assert any("repeated header line" in f["noted"] for f in acc["files"].values())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content", [b"", b"\n\n", b"\x00\x01\x02\x03" * 64, b"\xff\xfe"])
def test_empty_or_binary_file_is_an_error_never_an_empty_table(kind, content, tmp_path):
    p = tmp_path / f"junk{fixture(kind).suffix}"
    p.write_bytes(content)
    for on_error in ("raise", "skip"):
        try:
            acc, _ = read_table(kind, p, on_error)
        except SaliencyError as exc:
            assert str(p) in str(exc)
        else:  # an empty text file (nothing, blank lines, a byte-order mark alone) holds no fixation
            assert acc["seen"] == 0 and content in (b"", b"\n\n", b"\xff\xfe")


DV_DURATION = "CURRENT_FIX_DURATION"


@pytest.mark.parametrize("value,reason", [("inf", "non-finite duration"), ("1e308", "non-finite duration"),
                                          ("-5", "negative duration")])
def test_extreme_durations_are_refused_under_their_reason(value, reason, tmp_path):
    lines = fixture("dataviewer").read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    col = header.index(DV_DURATION)
    row = lines[5].split(",")
    row[col] = value
    lines[5] = ",".join(row)
    p = tmp_path / "dv.csv"
    p.write_text("".join(lines))
    with pytest.raises(ReaderError, match=f"{re.escape(str(p))}:6: duration"):
        read_table("dataviewer", p, "raise")
    acc, _ = read_table("dataviewer", p, "skip")
    assert acc["dropped_by_reason"].get(reason) == 1 and acc["seen"] == 112


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10**9), flips=st.lists(st.integers(0, 10**9), max_size=3),
       on_error=st.sampled_from(["raise", "skip"]))
def test_hypothesis_prefix_and_flips_dataviewer(cut, flips, on_error, clean, tmp_path):
    data = bytearray(fixture("dataviewer").read_bytes())
    data = data[: cut % (len(data) + 1)]
    for f in flips:
        if data:
            data[f % len(data)] = (data[f % len(data)] + 1 + f % 250) % 256
    p = tmp_path / "h.csv"
    p.write_bytes(bytes(data))
    try:
        acc, frame = read_table("dataviewer", p, on_error)
    except SaliencyError as exc:
        assert str(p) in str(exc)
        return
    assert acc["seen"] == acc["kept"] + acc["dropped"]
    if not flips:
        rows = clean["dataviewer"][1]
        assert all(_same(r, rows[k]) for k, r in _by_line(frame).items())
    assert np.isfinite(frame["x"]).all() and np.isfinite(frame["y"]).all()


def test_fixatons_scanpath_truncations_and_encodings(tmp_path):
    """MIT1003 (FixaTons layout): every cut of one real scanpath file, and its re-encodings."""
    from saliency.readers.base import ReadOptions
    from saliency.readers.fixatons import parse_scanpath
    from saliency.readers.text import decode_bytes
    from tests.robustness.corpus import FIXTURES

    scanpaths = FIXTURES.parent / "datasets" / "mit1003" / "SCANPATHS"
    src = sorted(next(iter(sorted(scanpaths.iterdir()))).iterdir())[0]
    data = src.read_bytes()
    clean = parse_scanpath(src, data.decode(), ReadOptions())
    rows = {int(k): (x, y, a, b) for k, x, y, a, b in zip(clean.line, clean.x, clean.y, clean.t0, clean.t1,
                                                           strict=True)}
    p = tmp_path / src.name
    for _label, cut in truncations(data, max_cuts=len(data)):
        p.write_bytes(cut)
        text, _ = decode_bytes(cut, p)
        for on_error in ("raise", "skip"):
            try:
                got = parse_scanpath(p, text, ReadOptions(on_error=on_error))
            except SaliencyError as exc:
                assert str(p) in str(exc)
                continue
            for k, x, y, a, b in zip(got.line, got.x, got.y, got.t0, got.t1, strict=True):
                assert rows[int(k)] == (x, y, a, b), f"line {k} changed"
            if on_error == "skip":  # every line the cut file holds is kept here or dropped with a reason
                held = sum(1 for v in cut.splitlines() if v.strip())
                assert got.line.size + got.accounting.total_dropped == held
    for codec in ENCODINGS:
        enc = reencode(data, codec)
        text, _ = decode_bytes(enc, p, "latin-1" if codec == "latin-1" else "utf-8")
        got = parse_scanpath(p, text, ReadOptions())
        assert got.line.tolist() == clean.line.tolist() and got.x.tolist() == clean.x.tolist()
