"""Row filters over a :class:`FixationTable`: pure functions returning a new table.

Each filter optionally counts what it removes in an :class:`~saliency.fixations.accounting.Accounting`,
per source file and under its own reason, so an ingest report still accounts for every fixation.
A *scanpath* is the group (dataset, stimulus, observer, trial); ``index`` is the fixation's order in
the source scanpath (0 = the first fixation the recording reported).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from saliency.errors import ConfigError
from saliency.fixations.table import FixationTable

if TYPE_CHECKING:
    from saliency.fixations.accounting import Accounting

FIRST_FIXATION = "first fixation"
TOO_SHORT = "duration below minimum"
TOO_LONG = "duration above maximum"
OUTSIDE_WINDOW = "onset outside time window"
UNKNOWN_DURATION = "unknown duration"
UNKNOWN_ONSET = "unknown onset"


def _apply(table: FixationTable, drop: np.ndarray, reason: str, accounting: Accounting | None) -> FixationTable:
    """Remove the rows in ``drop`` (bool mask), moving their count from kept to ``reason``."""
    if accounting is not None and drop.any():
        from saliency.fixations.accounting import source_file_of

        files = source_file_of(table.data.loc[drop, "source"].astype(str))
        for f, n in files.value_counts().items():
            accounting.kept(f, -int(n))
            accounting.dropped(f, reason, int(n))
    data = table.data.loc[~drop].reset_index(drop=True)
    return FixationTable(data, table.meta)


def drop_first_fixation(table: FixationTable, n: int = 1, *, accounting: Accounting | None = None) -> FixationTable:
    """Drop the first ``n`` fixations of every scanpath (rows with ``index < n``).

    The first fixation usually sits on the central fixation cross shown before the image (a strong,
    artificial centre bias), so saliency benchmarks (e.g. MIT/Tübingen, pysaliency) commonly remove it.
    The test is on the source ``index``: if the first fixation was already dropped (e.g. outside the
    stimulus), the next one is a genuine exploration fixation and is kept.
    """
    if n < 0:
        raise ConfigError(f"n must be ≥ 0, got {n}")
    return _apply(table, table.data["index"].to_numpy() < n, FIRST_FIXATION, accounting)


def filter_duration(table: FixationTable, min_ms: float | None = None, max_ms: float | None = None, *,
                    keep_unknown: bool = True, accounting: Accounting | None = None) -> FixationTable:
    """Keep fixations with ``min_ms ≤ duration_ms ≤ max_ms``; NaN durations kept iff ``keep_unknown``."""
    for name, v in (("min_ms", min_ms), ("max_ms", max_ms)):
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise ConfigError(f"{name} must be a finite number ≥ 0, got {v!r}")
    if min_ms is not None and max_ms is not None and min_ms > max_ms:
        raise ConfigError(f"min_ms {min_ms} > max_ms {max_ms}")
    d = table.data["duration_ms"].to_numpy()
    unknown = np.isnan(d)
    if not keep_unknown:
        table = _apply(table, unknown, UNKNOWN_DURATION, accounting)
        d = table.data["duration_ms"].to_numpy()
    if min_ms is not None:
        table = _apply(table, d < min_ms, TOO_SHORT, accounting)
        d = table.data["duration_ms"].to_numpy()
    if max_ms is not None:
        table = _apply(table, d > max_ms, TOO_LONG, accounting)
    return table


def filter_time_window(table: FixationTable, start_ms: float = 0.0, end_ms: float = math.inf, *,
                       keep_unknown: bool = True, accounting: Accounting | None = None) -> FixationTable:
    """Keep fixations whose onset ``t_start_ms`` lies in [start_ms, end_ms); NaN onsets kept iff ``keep_unknown``."""
    if not start_ms < end_ms:
        raise ConfigError(f"time window must have start_ms < end_ms, got [{start_ms}, {end_ms})")
    t = table.data["t_start_ms"].to_numpy()
    unknown = np.isnan(t)
    if not keep_unknown:
        table = _apply(table, unknown, UNKNOWN_ONSET, accounting)
        t = table.data["t_start_ms"].to_numpy()
    with np.errstate(invalid="ignore"):
        outside = (t < start_ms) | (t >= end_ms)
    return _apply(table, outside, OUTSIDE_WINDOW, accounting)


def drop_rows(table: FixationTable, mask: np.ndarray, reason: str, accounting: Accounting | None = None) -> FixationTable:
    """Remove the rows in ``mask`` (bool, one per row), counting them under ``reason`` (e.g. a quality rule)."""
    return _apply(table, np.asarray(mask, dtype=bool), reason, accounting)
