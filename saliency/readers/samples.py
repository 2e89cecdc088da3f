"""Raw gaze sample tables (TSV/CSV, one row per sample) → compact arrays for fixation detection.

Public API::

    read_samples(path, *, eye="mean", options=ReadOptions(), accounting=None, time_column=None,
                 delimiter=None) -> GazeSamples

Recognised layouts (column names, case-insensitive; extra columns such as ``trialId``, ``pointId``,
``pupil_diameter`` are ignored, ``trial`` columns are kept when present):

* monocular: ``time``, ``x``, ``y``
* binocular: ``time``, ``x_left``, ``y_left``, ``x_right``, ``y_right``

``time`` is in ms (tracker clock); x/y in screen pixels (0-based). Missing data — empty cells, ``.``,
``NaN``, or (0, 0), which several trackers write during blinks — become NaN (``validity`` False) and are
counted in ``accounting`` under ``noted`` (``raw samples missing (blink or track loss)``).
``eye="mean"`` averages both eyes where both are valid (NaN otherwise); ``"left"``/``"right"`` select
one; a monocular table ignores ``eye``. A non-numeric cell or a non-increasing time raises
:class:`ReaderError` naming file and line (1-based, header = line 1), or under ``on_error="skip"`` drops
the row (counted as noted ``malformed sample skipped``). A row with fewer fields than the header (a cut file) is
such a bad row. Text decoding (``encoding``, byte-order marks, UTF-16 sniffing): :mod:`saliency.readers.text`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import Accounting
from saliency.readers.base import ReadOptions
from saliency.readers.text import read_text

SAMPLES_MISSING = "raw samples missing (blink or track loss)"
SAMPLE_SKIPPED = "malformed sample skipped"


@dataclass(frozen=True)
class GazeSamples:
    """Raw gaze samples of one eye (or the binocular mean): the one container of every sample reader
    (sample tables here, EyeLink ASC samples in :mod:`saliency.readers.eyelink`).

    (N,) arrays: time_ms float64 tracker time, strictly increasing within a trial; x_px/y_px screen pixels
    (float64; float32 from ASC files, to save memory), NaN where missing; trial int64 (0 when the source has
    no trials; a read-only broadcast for one ASC trial); line (file line of each sample). ``eye``: "left",
    "right", "mean" or "unknown"; ``path``: the source file.
    """

    time_ms: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    trial: np.ndarray
    line: np.ndarray
    eye: str
    path: Path

    @property
    def validity(self) -> np.ndarray:
        """(N,) bool: both coordinates present (not NaN)."""
        return np.isfinite(self.x_px) & np.isfinite(self.y_px)

    def __len__(self) -> int:
        return int(self.time_ms.shape[0])


def _col(cols: dict[str, str], *names: str) -> str | None:
    for n in names:
        if n in cols:
            return cols[n]
    return None


def read_samples(path: str | Path, *, eye: Literal["left", "right", "mean"] = "mean",
                 options: ReadOptions | None = None, accounting: Accounting | None = None,
                 time_column: str | None = None, delimiter: str | None = None,
                 encoding: str = "utf-8") -> GazeSamples:
    """Read a raw sample table (see the module docstring for layouts and conventions)."""
    options = options or ReadOptions()
    accounting = accounting if accounting is not None else Accounting()
    path = Path(path)
    if eye not in ("left", "right", "mean"):
        raise ConfigError(f"eye must be 'left', 'right' or 'mean', got {eye!r}")
    if not path.is_file():
        raise ReaderError("no such file: expected a raw gaze sample table", path=path)
    sep = delimiter or ("\t" if path.suffix.lower() in (".tsv", ".txt") else ",")
    text, _ = read_text(path, encoding)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError as exc:
        raise ReaderError("empty file: expected a header line and sample rows", path=path, line=1) from exc
    except pd.errors.ParserError as exc:
        raise ReaderError(f"not a {sep!r}-separated table: {exc}", path=path) from exc
    short = df.isna().any(axis=1).to_numpy()  # fewer fields than the header: a cut row
    df = df.fillna("")
    cols = {c.strip().lower(): c for c in df.columns}
    tcol = time_column or _col(cols, "time", "time_ms", "timestamp", "t")
    if tcol is None or tcol not in df.columns:
        raise ReaderError(f"no time column (expected 'time'); columns are {list(df.columns)}", path=path, line=1)
    binocular = all(c in cols for c in ("x_left", "y_left", "x_right", "y_right"))
    if binocular:
        xy = {"left": (cols["x_left"], cols["y_left"]), "right": (cols["x_right"], cols["y_right"])}
    else:
        xc, yc = _col(cols, "x", "x_px", "gaze_x"), _col(cols, "y", "y_px", "gaze_y")
        if xc is None or yc is None:
            raise ReaderError(f"no gaze columns (expected x, y or x_left, y_left, x_right, y_right); "
                              f"columns are {list(df.columns)}", path=path, line=1)
        xy = {"only": (xc, yc)}
    trial_col = _col(cols, "trial", "trialid", "trial_id")
    line = np.arange(len(df), dtype=np.int64) + 2

    def num(c: str) -> tuple[np.ndarray, np.ndarray]:
        s = df[c].str.strip().replace({"": "nan", ".": "nan"})
        v = pd.to_numeric(s, errors="coerce").to_numpy(np.float64, copy=True)
        bad = np.isnan(v) & ~s.str.lower().isin(["nan"]).to_numpy()
        return v, bad

    t, bad = num(tcol)
    bad |= ~np.isfinite(t)
    arrays = {}
    for k, (xc, yc) in xy.items():
        x, bx = num(xc)
        y, by = num(yc)
        bad |= bx | by
        zero = (x == 0) & (y == 0)
        x[zero] = np.nan
        y[zero] = np.nan
        arrays[k] = (x, y)
    tr = np.zeros(len(df), np.int64)
    if trial_col is not None:
        tv, bt = num(trial_col)
        bad |= bt | np.isnan(tv)
        tr = np.nan_to_num(tv).astype(np.int64)
    if short.any() and options.on_error == "raise":
        i = int(np.flatnonzero(short)[0])
        raise ReaderError(f"fewer fields than the header's {len(df.columns)}: truncated or short row",
                          path=path, line=int(line[i]))
    bad |= short
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if options.on_error == "raise":
            raise ReaderError(f"sample row {df.iloc[i].to_dict()} has a non-numeric value: expected numbers "
                              "(empty or '.' = missing)", path=path, line=int(line[i]))
        accounting.note(path, SAMPLE_SKIPPED, int(bad.sum()))
    keep = ~bad
    # times must increase within a trial
    # within each trial (rows of one trial need not be adjacent), in file order
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(tr[idx], kind="stable")]
    tk, trk = t[idx], tr[idx]
    back = np.flatnonzero((np.diff(tk) <= 0) & (np.diff(trk) == 0)) + 1
    if back.size:
        i = int(idx[back[0]])
        if options.on_error == "raise":
            raise ReaderError(f"time {t[i]} does not increase (previous sample at {tk[back[0] - 1]}): expected "
                              "strictly increasing sample times", path=path, line=int(line[i]))
        accounting.note(path, SAMPLE_SKIPPED, int(back.size))
        keep[idx[back]] = False
        while True:  # dropping a sample can expose another non-increasing pair
            idx = np.flatnonzero(keep)
            idx = idx[np.argsort(tr[idx], kind="stable")]
            back = np.flatnonzero((np.diff(t[idx]) <= 0) & (np.diff(tr[idx]) == 0)) + 1
            if not back.size:
                break
            accounting.note(path, SAMPLE_SKIPPED, int(back.size))
            keep[idx[back]] = False
    if "only" in arrays:
        x, y = arrays["only"]
        name = "unknown"
    elif eye == "mean":
        (xl, yl), (xr, yr) = arrays["left"], arrays["right"]
        x, y, name = (xl + xr) / 2.0, (yl + yr) / 2.0, "mean"
    else:
        (x, y), name = arrays[eye], eye
    x, y = x[keep], y[keep]
    valid = np.isfinite(x) & np.isfinite(y)
    if (~valid).any():
        accounting.note(path, SAMPLES_MISSING, int((~valid).sum()))
    return GazeSamples(t[keep], x, y, tr[keep], line[keep], name, path)
