"""Which fixations of each scanpath enter a map, a baseline or a metric: :class:`FixationSelection`.

A *scanpath* is the group (stimulus, observer, trial) of a fixation table; ``index`` is the fixation's
0-based order in the source scanpath (0 = the first fixation the recording reported, on most datasets
the landing on the central fixation cross shown before the image). A selection keeps, in this order:

1. scanpaths with at least ``min_length`` recorded fixations (``max(index) + 1``; 0 = every scanpath);
2. fixations with ``start_index ≤ index < stop_index`` (``stop_index`` None = no upper bound);
3. fixations whose onset ``t_start_ms`` lies in ``[start_ms, end_ms)`` (either bound None = open;
   unknown onsets (NaN) are kept only when no window is given);
4. the first ``max_per_scanpath`` of what is left in each scanpath, by ``index`` (None = all).

Each step is a pure function of a row's own scanpath, so applying a selection twice gives the same rows.
The selection travels in a shard set's ``meta.json`` (``options.selection``) so that maps, baselines and
metrics built from those shards all use the same fixations.

Text form (``--select``; comma-separated, any order)::

    all                    every fixation
    drop-first             start_index = 1 (the benchmark convention of MIT1003 in pysaliency)
    index=1:6              start_index = 1, stop_index = 6 (either side may be empty: "2:" or ":5")
    max=5                  max_per_scanpath = 5
    window=0:1500          start_ms = 0, end_ms = 1500 (ms from stimulus onset; either side may be empty)
    min-length=6           min_length = 6
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError

SCANPATH_KEYS = ("stimulus", "observer", "trial")


@dataclass(frozen=True)
class FixationSelection:
    """Fixations kept per scanpath (see the module docstring); the default keeps every fixation."""

    start_index: int = 0
    stop_index: int | None = None
    max_per_scanpath: int | None = None
    start_ms: float | None = None
    end_ms: float | None = None
    min_length: int = 0

    def __post_init__(self) -> None:
        if self.start_index < 0:
            raise ConfigError(f"start_index must be ≥ 0, got {self.start_index}")
        if self.stop_index is not None and self.stop_index <= self.start_index:
            raise ConfigError(f"index range {self.start_index}:{self.stop_index} is empty (need start < stop)")
        if self.max_per_scanpath is not None and self.max_per_scanpath < 1:
            raise ConfigError(f"max_per_scanpath must be ≥ 1, got {self.max_per_scanpath}")
        if self.min_length < 0:
            raise ConfigError(f"min_length must be ≥ 0, got {self.min_length}")
        for name in ("start_ms", "end_ms"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ConfigError(f"{name} must be a finite number of ms, got {v!r}")
        if self.start_ms is not None and self.end_ms is not None and not self.start_ms < self.end_ms:
            raise ConfigError(f"time window must have start_ms < end_ms, got [{self.start_ms}, {self.end_ms})")

    # ---- properties ---------------------------------------------------------------------------
    @property
    def keeps_all(self) -> bool:
        return self == FixationSelection()

    @property
    def has_window(self) -> bool:
        return self.start_ms is not None or self.end_ms is not None

    def with_drop_first(self) -> FixationSelection:
        """This selection with at least the first fixation of each scanpath left out."""
        return self if self.start_index >= 1 else replace(self, start_index=1)

    # ---- application --------------------------------------------------------------------------
    def mask(self, rows: pd.DataFrame) -> np.ndarray:
        """(N,) bool: the rows of a fixation table (or any subset of whole scanpaths) this selection keeps."""
        n = len(rows)
        keep = np.ones(n, dtype=bool)
        if self.keeps_all or n == 0:
            return keep
        index = rows["index"].to_numpy()
        keys = [rows[k].to_numpy() for k in SCANPATH_KEYS if k in rows]
        gid = (pd.MultiIndex.from_arrays(keys).factorize()[0] if len(keys) > 1
               else pd.factorize(keys[0])[0] if keys else np.zeros(n, dtype=np.int64))
        if self.min_length:
            length = pd.Series(index).groupby(gid).transform("max").to_numpy() + 1
            keep &= length >= self.min_length
        keep &= index >= self.start_index
        if self.stop_index is not None:
            keep &= index < self.stop_index
        if self.has_window:
            t = rows["t_start_ms"].to_numpy(dtype=np.float64)
            with np.errstate(invalid="ignore"):
                inside = np.isfinite(t)
                if self.start_ms is not None:
                    inside &= t >= self.start_ms
                if self.end_ms is not None:
                    inside &= t < self.end_ms
            keep &= inside
        if self.max_per_scanpath is not None and keep.any():
            pos = np.flatnonzero(keep)
            order = np.lexsort((index[pos], gid[pos]))
            ranked = pos[order]
            rank = pd.Series(gid[ranked]).groupby(gid[ranked]).cumcount().to_numpy()
            keep[ranked[rank >= self.max_per_scanpath]] = False
        return keep

    def apply(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The rows kept (same columns, original order)."""
        return rows if self.keeps_all else rows[self.mask(rows)]

    # ---- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> FixationSelection:
        if not d:
            return cls()
        known = {f for f in cls.__dataclass_fields__}
        bad = set(d) - known
        if bad:
            raise ConfigError(f"fixation selection: unknown field(s) {sorted(bad)}; known: {sorted(known)}")
        return cls(**d)

    def describe(self) -> str:
        """The text form (:func:`parse_selection` reads it back)."""
        if self.keeps_all:
            return "all"
        parts = []
        if self.start_index or self.stop_index is not None:
            if self.start_index == 1 and self.stop_index is None:
                parts.append("drop-first")
            else:
                parts.append(f"index={self.start_index}:{'' if self.stop_index is None else self.stop_index}")
        if self.max_per_scanpath is not None:
            parts.append(f"max={self.max_per_scanpath}")
        if self.has_window:
            parts.append(f"window={_num(self.start_ms)}:{_num(self.end_ms)}")
        if self.min_length:
            parts.append(f"min-length={self.min_length}")
        return ",".join(parts)


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else str(v)


def _int_or_none(text: str, what: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"fixation selection: {what} must be an integer, got {text!r}") from None


def _float_or_none(text: str, what: str) -> float | None:
    text = text.strip().removesuffix("ms")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"fixation selection: {what} must be a number of ms, got {text!r}") from None


def parse_selection(spec: str | dict[str, Any] | FixationSelection | None) -> FixationSelection:
    """A selection from its text form (module docstring), a dict of fields, or a selection (returned)."""
    if spec is None:
        return FixationSelection()
    if isinstance(spec, FixationSelection):
        return spec
    if isinstance(spec, dict):
        return FixationSelection.from_dict(spec)
    fields: dict[str, Any] = {}
    for raw in str(spec).split(","):
        part = raw.strip().lower()
        if not part or part == "all":
            continue
        if part in ("drop-first", "drop_first"):
            fields["start_index"] = max(1, fields.get("start_index", 0))
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"fixation selection: cannot read {raw.strip()!r}; expected all, drop-first, "
                              "index=A:B, max=N, window=T0:T1 or min-length=N")
        key = key.strip().replace("_", "-")
        if key == "index":
            a, colon, b = value.partition(":")
            if not colon:
                raise ConfigError(f"fixation selection: index needs a range A:B, got {value!r}")
            fields["start_index"] = _int_or_none(a, "index start") or 0
            fields["stop_index"] = _int_or_none(b, "index stop")
        elif key in ("max", "max-per-scanpath"):
            fields["max_per_scanpath"] = _int_or_none(value, "max")
        elif key == "window":
            a, colon, b = value.partition(":")
            if not colon:
                raise ConfigError(f"fixation selection: window needs T0:T1 in ms, got {value!r}")
            fields["start_ms"] = _float_or_none(a, "window start")
            fields["end_ms"] = _float_or_none(b, "window end")
        elif key == "min-length":
            fields["min_length"] = _int_or_none(value, "min-length") or 0
        else:
            raise ConfigError(f"fixation selection: unknown key {key!r}; known: index, max, window, min-length")
    return FixationSelection(**fields)
