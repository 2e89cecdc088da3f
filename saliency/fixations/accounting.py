"""The accounting of kept and dropped fixations, per source file and reason.

Readers record every record they keep and every record they drop (with the reason); filters move a
row's count from kept to their own reason. No fixation disappears unaccounted:
``accounting.total_seen == kept + dropped`` per file. ``source`` values are ``path:line`` or
``path[record]``; :func:`source_file_of` recovers the file part.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from saliency.errors import ReaderError

# Reasons used across readers (free text is allowed, but reuse these where they fit).
MALFORMED = "malformed record"
NON_FINITE = "non-finite coordinate"
NEGATIVE_DURATION = "negative duration"
NON_FINITE_DURATION = "non-finite duration"  # NaN where a duration is required, ±inf, or beyond MAX_DURATION_MS
TRUNCATED = "truncated row"  # fewer fields than the header, or a last line cut before its line end
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


class ErrorPolicy(Protocol):
    """Anything with an ``on_error`` of ``raise`` or ``skip`` (e.g. ``saliency.readers.base.ReadOptions``)."""

    on_error: str


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

    def bad_record(self, exc: ReaderError, options: ErrorPolicy, reason: str = MALFORMED) -> None:
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
