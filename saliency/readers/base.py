"""What every reader shares: options, the accounting of kept and dropped records, and finalisation.

A reader turns one source file into a pandas frame of canonical fixation columns (see
:mod:`saliency.fixations.table`) in *stimulus* pixel coordinates, recording in an
:class:`Accounting` every record it keeps and every record it drops with the reason.
:func:`finalize` then applies the out-of-stimulus policy (drop or clip, counted) and validates.
No fixation disappears unaccounted: ``accounting.total_seen == kept + dropped`` per file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.table import COLUMNS, DatasetMeta, FixationTable

OnError = Literal["raise", "skip"]
OutOfStimulus = Literal["drop", "clip"]

# Reasons used across readers (free text is allowed, but reuse these where they fit).
MALFORMED = "malformed record"
NON_FINITE = "non-finite coordinate"
NEGATIVE_DURATION = "negative duration"
NON_FINITE_DURATION = "non-finite duration"  # NaN where a duration is required, ±inf, or beyond MAX_DURATION_MS
TRUNCATED = "truncated row"  # fewer fields than the header (a file cut mid-row)
REPEATED_HEADER = "repeated header line"  # noted, not a record
MAX_DURATION_MS = 1e9  # ≈ 11.6 days: a longer fixation duration is a corrupt value
OUTSIDE = "outside stimulus"
CLIPPED = "clipped into stimulus"  # counted, but kept
BLINK = "during blink"
UNKNOWN_STIMULUS = "unknown stimulus"
OTHER_EYE = "other eye"
NOT_FIXATION = "not a fixation"


def duration_masks(duration_ms: np.ndarray, *, nan_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """(negative, non-finite) masks over durations in ms: negative = finite and < 0; non-finite = ±inf,
    beyond ``MAX_DURATION_MS`` in size, or NaN unless ``nan_ok`` (formats where "unknown" is allowed)."""
    d = np.asarray(duration_ms, dtype=np.float64)
    ok_size = np.abs(d) <= MAX_DURATION_MS
    neg = ok_size & (d < 0)
    nonfinite = ~ok_size & (~np.isnan(d) if nan_ok else True)
    return neg, nonfinite


@dataclass(frozen=True)
class ReadOptions:
    """Options every reader honours.

    on_error: ``raise`` stops at the first bad record with a :class:`ReaderError` naming file and line;
        ``skip`` drops it and counts it under its reason.
    out_of_stimulus: ``drop`` (default) removes fixations outside [0, width) × [0, height);
        ``clip`` moves them onto the nearest border pixel. Both are counted.
    """

    on_error: OnError = "raise"
    out_of_stimulus: OutOfStimulus = "drop"

    def __post_init__(self) -> None:
        if self.on_error not in ("raise", "skip"):
            raise ConfigError(f"on_error must be 'raise' or 'skip', got {self.on_error!r}")
        if self.out_of_stimulus not in ("drop", "clip"):
            raise ConfigError(f"out_of_stimulus must be 'drop' or 'clip', got {self.out_of_stimulus!r}")


class Accounting:
    """Per source file: how many fixations were kept, and how many dropped for which reason."""

    def __init__(self) -> None:
        self._kept: Counter[str] = Counter()
        self._dropped: dict[str, Counter[str]] = defaultdict(Counter)
        self._noted: dict[str, Counter[str]] = defaultdict(Counter)
        self._examples: dict[tuple[str, str], str] = {}
        self._skipped_files: dict[str, str] = {}

    def kept(self, path: str | Path, n: int = 1) -> None:
        self._kept[str(path)] += n

    def dropped(self, path: str | Path, reason: str, n: int = 1, example: str | None = None) -> None:
        key = str(path)
        self._dropped[key][reason] += n
        if example is not None:
            self._examples.setdefault((key, reason), example)

    def note(self, path: str | Path, what: str, n: int = 1) -> None:
        """Count something that changed but was kept (e.g. clipped into the stimulus)."""
        self._noted[str(path)][what] += n

    def skipped_file(self, path: str | Path, why: str) -> None:
        """A whole file that could not be read, skipped under ``on_error='skip'`` (listed, never silent)."""
        self._skipped_files[str(path)] = why

    @property
    def files_skipped(self) -> dict[str, str]:
        return dict(self._skipped_files)

    def bad_record(self, exc: ReaderError, options: ReadOptions, reason: str = MALFORMED) -> None:
        """Raise ``exc`` under ``on_error='raise'``; under ``skip`` count it as dropped."""
        if options.on_error == "raise":
            raise exc
        where = f"line {exc.line}" if exc.line is not None else (exc.record or "")
        self.dropped(exc.path or "?", reason, example=f"{where}: {exc.reason}")

    def merge(self, other: Accounting) -> None:
        self._kept.update(other._kept)
        for k, c in other._dropped.items():
            self._dropped[k].update(c)
        for k, c in other._noted.items():
            self._noted[k].update(c)
        for k, v in other._examples.items():
            self._examples.setdefault(k, v)
        self._skipped_files.update(other._skipped_files)

    @property
    def total_kept(self) -> int:
        return sum(self._kept.values())

    @property
    def total_dropped(self) -> int:
        return sum(sum(c.values()) for c in self._dropped.values())

    def dropped_by_reason(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for c in self._dropped.values():
            out.update(c)
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        files = sorted(set(self._kept) | set(self._dropped) | set(self._noted))
        return {
            "kept": self.total_kept,
            "dropped": self.total_dropped,
            "seen": self.total_kept + self.total_dropped,
            "dropped_by_reason": self.dropped_by_reason(),
            "files_skipped": dict(sorted(self._skipped_files.items())),
            "files": {
                f: {
                    "kept": self._kept.get(f, 0),
                    "dropped": dict(sorted(self._dropped.get(f, Counter()).items())),
                    "noted": dict(sorted(self._noted.get(f, Counter()).items())),
                    "examples": {r: e for (ff, r), e in sorted(self._examples.items()) if ff == f},
                }
                for f in files
            },
        }


def source_file_of(source: pd.Series) -> pd.Series:
    """The file part of a ``source`` value (``path:line`` or ``path[record]``)."""
    return source.str.replace(r"(:\d+|\[[^\]]*\])$", "", regex=True)


def finalize(frame: pd.DataFrame, meta: DatasetMeta, options: ReadOptions, accounting: Accounting) -> FixationTable:
    """Apply the out-of-stimulus policy (counted per file), count what is kept, validate.

    ``frame`` must hold the canonical columns with x, y in stimulus pixels; rows for stimuli missing
    from ``meta.stimuli`` are an error (or dropped as ``unknown stimulus`` under ``skip``).
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"reader produced a frame without columns {missing}")
    frame = frame.reset_index(drop=True)
    files = source_file_of(frame["source"].astype(str))

    known = frame["stimulus"].isin(list(meta.stimuli)).to_numpy()
    if not known.all():
        bad = np.flatnonzero(~known)
        first = int(bad[0])
        if options.on_error == "raise":
            raise ReaderError(f"stimulus {frame['stimulus'].iat[first]!r} is not in the stimulus list "
                              f"({len(meta.stimuli)} known)", path=files.iat[first],
                              record=str(frame["source"].iat[first]))
        for f, n in files[~known].value_counts().items():
            accounting.dropped(f, UNKNOWN_STIMULUS, int(n))
        frame, files = frame[known].reset_index(drop=True), files[known].reset_index(drop=True)

    w = frame["stimulus"].map({k: s.width_px for k, s in meta.stimuli.items()}).to_numpy(float)
    h = frame["stimulus"].map({k: s.height_px for k, s in meta.stimuli.items()}).to_numpy(float)
    x, y = frame["x"].to_numpy(float), frame["y"].to_numpy(float)
    outside = (x < 0) | (y < 0) | (x >= w) | (y >= h)
    if outside.any():
        if options.out_of_stimulus == "drop":
            first = pd.DataFrame({"f": files[outside].to_numpy(), "s": frame["source"].to_numpy()[outside],
                                  "x": x[outside], "y": y[outside], "w": w[outside], "h": h[outside]})
            first = first.groupby("f", sort=False).first()
            for f, n in files[outside].value_counts().items():
                r = first.loc[f]
                accounting.dropped(f, OUTSIDE, int(n), example=f"{r.s}: ({r.x:g}, {r.y:g}) not in "
                                   f"[0, {r.w:g}) × [0, {r.h:g})")
            frame, files = frame[~outside].reset_index(drop=True), files[~outside].reset_index(drop=True)
        else:
            frame = frame.copy()
            frame["x"] = np.clip(x, 0.0, np.nextafter(w, 0.0))
            frame["y"] = np.clip(y, 0.0, np.nextafter(h, 0.0))
            for f, n in files[outside].value_counts().items():
                accounting.note(f, CLIPPED, int(n))
    for f, n in files.value_counts().items():
        accounting.kept(f, int(n))
    return FixationTable.from_frame(frame, meta)
