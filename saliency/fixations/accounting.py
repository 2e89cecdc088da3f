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

import pandas as pd

from saliency.errors import ReaderError

# Reasons used across readers (free text is allowed, but reuse these where they fit).
MALFORMED = "malformed record"
NON_FINITE = "non-finite coordinate"
NEGATIVE_DURATION = "negative duration"
OUTSIDE = "outside stimulus"
CLIPPED = "clipped into stimulus"  # counted, but kept
BLINK = "during blink"
UNKNOWN_STIMULUS = "unknown stimulus"
OTHER_EYE = "other eye"
NOT_FIXATION = "not a fixation"



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
