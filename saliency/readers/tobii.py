"""Tobii Pro Studio / Pro Lab data exports (one row per gaze sample, with Tobii's fixation filter).

Rows whose eye-movement type is ``Fixation`` are grouped by fixation index within each participant,
recording and media; each group becomes one fixation. Column names are matched ignoring case, spaces,
underscores and brackets, so Studio's ``FixationPointX (MCSpx)`` and Pro Lab's ``Fixation point X
(MCSpx)`` are the same column:

=============  ==========================================  ==========================================
field          Tobii Pro Studio                            Tobii Pro Lab
=============  ==========================================  ==========================================
observer       ParticipantName                             Participant name
recording      RecordingName (optional)                    Recording name
stimulus       MediaName / StimuliName                     Presented Media name / Presented Stimulus name
type           GazeEventType                               Eye movement type
fixation id    FixationIndex                               Eye movement type index
duration       GazeEventDuration (ms)                      Gaze event duration (ms)
x, y           FixationPointX (MCSpx), FixationPointY      Fixation point X (MCSpx) or (MCSnorm)·size
size           MediaWidth, MediaHeight                     Presented Media width/height (px)
time           RecordingTimestamp (ms)                     Recording timestamp (ms, or μs if so named)
=============  ==========================================  ==========================================

MCS ("media coordinate system") pixels are stimulus pixels with the origin at the media's top-left
corner, so no placement is needed; a fixation with no media coordinate (off the media) is dropped as a
non-finite coordinate. When the export has no stimulus column, pass ``--stimulus NAME``; when it has no
media size, pass ``--stimulus-size WxH`` or ``--stimuli DIR``. Any field can be overridden with
``--column FIELD=COLUMN`` (fields: observer, stimulus, x, y, duration; t_start = the sample timestamp
column, index = the fixation-index column, trial = the recording-name column).

``t_start_ms`` is the first sample of the fixation minus the first sample on the same media in the same
recording (≈ stimulus onset); ``index`` is the fixation's order on that media (0-based); ``trial`` is the
recording's order for the participant (0 for one recording); ``eye`` is ``unknown`` (the filter's eye
selection is not exported); ``source`` is the line of the fixation's first sample. Accounting counts
fixations (groups); a malformed sample is dropped and counted by itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import (
    MALFORMED,
    NON_FINITE,
    NON_FINITE_DURATION,
    REPEATED_HEADER,
    TRUNCATED,
    Accounting,
    duration_masks,
)
from saliency.fixations.table import FixationTable, empty_frame
from saliency.readers.generic import NA_TOKENS, SourceTable, frame_to_table, load_source, numeric_column
from saliency.readers.request import ReadRequest

NO_STIMULUS = "no stimulus on screen"

CANDIDATES: dict[str, tuple[str, ...]] = {
    "observer": ("ParticipantName", "Participant name", "Participant"),
    "recording": ("RecordingName", "Recording name"),
    "stimulus": ("MediaName", "Presented Media name", "Presented Stimulus name", "StimuliName"),
    "type": ("GazeEventType", "Eye movement type"),
    "fixation": ("FixationIndex", "Eye movement type index"),
    "duration": ("GazeEventDuration", "Gaze event duration"),
    "x": ("FixationPointX (MCSpx)", "Fixation point X (MCSpx)"),
    "y": ("FixationPointY (MCSpx)", "Fixation point Y (MCSpx)"),
    "x_norm": ("Fixation point X (MCSnorm)",),
    "y_norm": ("Fixation point Y (MCSnorm)",),
    "width": ("MediaWidth", "Presented Media width", "Original Media width"),
    "height": ("MediaHeight", "Presented Media height", "Original Media height"),
    "t": ("RecordingTimestamp", "Recording timestamp"),
}


# ``--column FIELD=COLUMN`` fields → this reader's roles
OVERRIDE_ROLES = {"t_start": "t", "index": "fixation", "trial": "recording"}


def _norm(name: str) -> str:
    name = re.sub(r"\[[^\]]*\]|\((px|ms|us|μs)\)", "", name.lower())  # Pro Lab units: [ms], [px], [μs]
    return re.sub(r"[^a-z0-9]", "", name)


def find_columns(columns: list[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Canonical role → the export's column name, for the roles the export has."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
    out = {}
    for role, names in CANDIDATES.items():
        for n in names:
            if _norm(n) in by_norm:
                out[role] = by_norm[_norm(n)]
                break
    for f, c in overrides.items():
        out[OVERRIDE_ROLES.get(f, f)] = c
    return out


def _is_us(column: str) -> bool:
    """Pro Lab names microsecond timestamps ``Recording timestamp [μs]``."""
    low = column.lower()
    return "μs" in low or "[us]" in low or "(us)" in low


def _text(src: SourceTable, col: str) -> np.ndarray:
    return src.frame[col].astype(str).str.strip().to_numpy(dtype=object)


def _run_starts(mask: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Rows of ``mask`` that start a run: consecutive masked rows with equal ``keys`` are one record."""
    start = mask.copy()
    if mask.size > 1:
        same = np.ones(mask.size - 1, dtype=bool)
        for k in keys:
            same &= k[1:] == k[:-1]
        start[1:] &= ~(mask[:-1] & same)
    return start


def read_tobii(path: str | Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Read one Tobii Studio / Pro Lab export (see the module docstring for the columns)."""
    path = Path(path)
    key = str(path)
    wanted = {_norm(n) for names in CANDIDATES.values() for n in names}
    overrides = set(request.columns.values())
    src = load_source(path, encoding=request.encoding, delimiter=request.delimiter,
                      usecols=lambda c: _norm(c) in wanted or c in overrides)
    if len(src) == 0:
        return frame_to_table(empty_frame(), request, accounting, "tobii", path)
    cols = find_columns(list(src.frame.columns), dict(request.columns))
    need = ["observer", "type", "fixation"]
    need += ["x", "y"] if "x" in cols or "x_norm" not in cols else ["x_norm", "y_norm"]
    missing = [r for r in need if r not in cols]
    if missing:
        raise ReaderError(f"no column for {missing} (looked for {[CANDIDATES.get(m, (m,)) for m in missing]}); "
                          "expected a Tobii Studio / Pro Lab data export, or name them with --column",
                          path=path, line=1)
    missing_cols = [c for c in cols.values() if c not in src.frame.columns]
    if missing_cols:
        raise ReaderError(f"column(s) {missing_cols} not found", path=path, line=1)

    # the first sample on each media in each recording (any event type) marks the stimulus onset
    all_t = (pd.to_numeric(src.frame[cols["t"]].astype(str).str.strip(), errors="coerce") if "t" in cols
             else pd.Series(np.nan, index=src.frame.index))
    seg = [src.frame[cols[r]].astype(str).str.strip() for r in ("observer", "recording", "stimulus") if r in cols]
    onset_all = all_t.groupby(seg, sort=False).transform("min").to_numpy(float)
    is_fix = src.frame[cols["type"]].astype(str).str.strip().str.lower().eq("fixation").to_numpy()
    short = src.short if src.short is not None else np.zeros(len(src), bool)
    if short.any():
        i = int(np.flatnonzero(short)[0])
        exc = ReaderError(f"fewer fields than the header's {len(src.frame.columns)}: truncated or short row",
                          **src.where(i))
        if request.options.on_error == "raise":
            raise exc
        if (short & ~is_fix).any():  # samples of other event types are not fixations: noted only
            accounting.note(key, f"{TRUNCATED} (not a fixation sample)", int((short & ~is_fix).sum()))
    if src.repeated_headers:
        accounting.note(key, REPEATED_HEADER, src.repeated_headers)
    src = src.subset(is_fix)
    onset = onset_all[is_fix]
    short = short[is_fix]
    n = len(src)
    bad = short.copy()
    fix_id = numeric_column(src, cols["fixation"], request, accounting, bad)
    # a fixation spans several sample rows: what is counted is fixations (runs of rows), not rows
    obs_text = _text(src, cols["observer"])
    fix_text = src.frame[cols["fixation"]].astype(str).str.strip().to_numpy(dtype=object)
    no_id = np.isnan(fix_id) & ~bad
    starts = _run_starts(no_id, obs_text, *(_text(src, cols[c]) for c in ("x", "y", "x_norm", "y_norm")
                                            if c in cols))
    for i in np.flatnonzero(starts):
        accounting.bad_record(ReaderError(f"fixation sample without {cols['fixation']!r}; expected a fixation index",
                                          **src.where(int(i))), request.options)
    bad |= no_id
    if short.any():  # a cut fixation counts once, and only when none of its rows survived
        intact = set(zip(obs_text[~short], fix_text[~short], strict=True))
        lost = {(o, f) for o, f in zip(obs_text[short], fix_text[short], strict=True) if (o, f) not in intact}
        if lost:
            first = int(np.flatnonzero(short)[0])
            accounting.dropped(key, TRUNCATED, len(lost), example=f"line {src.where(first).get('line')}: "
                               "fewer fields than the header")
    if "x" in cols:
        x = numeric_column(src, cols["x"], request, accounting, bad)
        y = numeric_column(src, cols["y"], request, accounting, bad)
    else:
        x = numeric_column(src, cols["x_norm"], request, accounting, bad)
        y = numeric_column(src, cols["y_norm"], request, accounting, bad)
    dur = (numeric_column(src, cols["duration"], request, accounting, bad) if "duration" in cols
           else np.full(n, np.nan))
    t_col = cols.get("t")
    t = numeric_column(src, t_col, request, accounting, bad) if t_col else np.full(n, np.nan)
    if t_col and _is_us(t_col):
        t = t / 1000.0
    width = numeric_column(src, cols["width"], request, accounting, bad) if "width" in cols else None
    height = numeric_column(src, cols["height"], request, accounting, bad) if "height" in cols else None

    observer = _text(src, cols["observer"])
    recording = _text(src, cols["recording"]) if "recording" in cols else np.full(n, "", dtype=object)
    if "stimulus" in cols:
        stimulus = _text(src, cols["stimulus"])
    elif request.stimulus is not None:
        stimulus = np.full(n, request.stimulus, dtype=object)
    else:
        raise ConfigError(f"{path}: the export has no media/stimulus name column; pass --stimulus NAME "
                          "(the image's file name) or --column stimulus=COLUMN")
    if request.stimulus is not None and "stimulus" not in request.columns:
        stimulus = np.full(n, request.stimulus, dtype=object)

    keep = ~bad
    frame = pd.DataFrame({"observer": observer, "recording": recording, "stimulus": stimulus, "fix": fix_id,
                          "x": x, "y": y, "dur": dur, "t": t, "line": src.lines if src.lines is not None
                          else np.arange(n) + 1, "row": np.arange(n)})
    if width is not None and height is not None:
        frame["w"], frame["h"] = width, height
    frame["t0"] = frame["t"] - (onset / 1000.0 if t_col and frame["t"].size and _is_us(t_col) else onset)
    frame = frame[keep]
    group_keys = ["observer", "recording", "stimulus", "fix"]
    g = frame.groupby(group_keys, sort=False)
    agg = g.agg(x=("x", "first"), y=("y", "first"), dur=("dur", "first"), t0=("t0", "min"), line=("line", "min"),
                row=("row", "min"), **({"w": ("w", "first"), "h": ("h", "first")} if "w" in frame else {}))
    agg = agg.reset_index().sort_values("row", kind="stable").reset_index(drop=True)

    no_media = agg["stimulus"].str.lower().isin(NA_TOKENS).to_numpy()
    if no_media.any():
        accounting.dropped(key, NO_STIMULUS, int(no_media.sum()))
    nonfinite = ~no_media & ~(np.isfinite(agg["x"].to_numpy()) & np.isfinite(agg["y"].to_numpy()))
    if nonfinite.any():
        first = int(np.flatnonzero(nonfinite)[0])
        accounting.dropped(key, NON_FINITE, int(nonfinite.sum()),
                           example=f"line {int(agg['line'].iat[first])}: fixation without media coordinates")
    agg = agg[~(no_media | nonfinite)].reset_index(drop=True)

    sizes: dict[str, tuple[int, int]] = {}
    if "w" in agg:
        for name, grp in agg.groupby("stimulus", sort=True):
            w, h = grp["w"].dropna(), grp["h"].dropna()
            if len(w) and len(h):
                sizes[str(name)] = (int(w.iat[0]), int(h.iat[0]))
    if "x" not in cols:  # normalised media coordinates
        size = agg["stimulus"].map(lambda s: request.stimulus_size or sizes.get(s, (np.nan, np.nan)))
        agg["x"] = agg["x"] * size.map(lambda v: v[0]).astype(float)
        agg["y"] = agg["y"] * size.map(lambda v: v[1]).astype(float)
    origin = request.origin or 0
    xs, ys = agg["x"].to_numpy(float) - origin, agg["y"].to_numpy(float) - origin
    if request.placement is not None:
        xs, ys = request.placement.screen_to_stimulus(xs, ys)

    trial = agg.groupby("observer", sort=False)["recording"].transform(
        lambda r: pd.Series(pd.factorize(r)[0], index=r.index)).astype(np.int64)
    out = pd.DataFrame({
        "dataset": request.dataset, "stimulus": agg["stimulus"], "observer": agg["observer"], "trial": trial,
        "x": xs, "y": ys, "t_start_ms": agg["t0"].to_numpy(float), "duration_ms": agg["dur"].to_numpy(float),
        "eye": "unknown", "source": [f"{key}:{int(v)}" for v in agg["line"]],
    })
    out["index"] = out.groupby(["observer", "trial", "stimulus"], sort=False).cumcount()
    if len(agg):
        neg, huge = duration_masks(out["duration_ms"].to_numpy(), nan_ok=True)
        for mask, reason, what in ((neg, MALFORMED, "expected ≥ 0"),
                                   (huge, NON_FINITE_DURATION, "expected a finite duration")):
            for i in np.flatnonzero(mask):
                accounting.bad_record(ReaderError(f"duration {out['duration_ms'].iat[i]:g} ms; {what}",
                                                  path=path, line=int(agg["line"].iat[i])), request.options, reason)
        out = out[~(neg | huge)].reset_index(drop=True)
    return frame_to_table(out, request, accounting, "tobii", path, sizes=sizes,
                          origin_text="0-based media (MCS) pixels")
