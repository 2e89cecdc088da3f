"""What the ingest orchestration asks of a reader: one frozen, picklable request for every format.

Each registered reader has an entry point ``read(path, request, accounting) -> FixationTable``
(see :mod:`saliency.readers`). Fields a format does not use are ignored by it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saliency.errors import ConfigError
from saliency.fixations.placement import StimulusPlacement
from saliency.fixations.table import StimulusInfo
from saliency.readers.base import ReadOptions
from saliency.units import ViewingGeometry

EYE_CHOICES = ("auto", "left", "right", "mean", "both")
TIME_UNITS_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3}
# Canonical fields a column mapping may name (``--column FIELD=SOURCE_COLUMN``).
MAPPABLE_FIELDS = ("stimulus", "observer", "trial", "index", "x", "y", "t_start", "t_end", "duration", "eye")


@dataclass(frozen=True)
class ReadRequest:
    """Everything a reader may need beyond the path.

    dataset: the table's ``dataset`` value.
    options: on_error / out_of_stimulus policies.
    stimuli: known stimuli (name → size) when the images are at hand (``--stimuli DIR``); else None.
    stimuli_dir: the folder they came from (dataset-layout readers scan it themselves).
    stimulus_size: (width_px, height_px) for every stimulus when images are not at hand.
    stimulus: one stimulus name for every row (single-image recordings without a name column).
    eye: ``auto`` (what the recording has; binocular → both eyes as separate rows), ``left``,
        ``right``, ``mean`` (binocular average where the format supports it) or ``both``.
    columns: canonical field → source column (generic, Data Viewer, Tobii overrides).
    origin: coordinate origin of the source (0 or 1); None = the format's default.
    time_unit: unit of time columns for the generic reader (``ms``, ``s``, ``us``).
    placement: where the stimulus lay on the screen, for formats that report screen pixels.
    encoding, delimiter: text decoding; delimiter None = sniffed from the header (tab, comma, semicolon).
    extra: format-specific options given as text (``--option KEY=VALUE``), e.g. EyeLink's ``events``,
        ``stimulus_pattern``, ``onset_pattern``; each reader documents and validates the keys it accepts.
    """

    dataset: str
    options: ReadOptions = field(default_factory=ReadOptions)
    stimuli: Mapping[str, StimulusInfo] | None = None
    stimuli_dir: Path | None = None
    stimulus_size: tuple[int, int] | None = None
    stimulus: str | None = None
    eye: str = "auto"
    columns: Mapping[str, str] = field(default_factory=dict)
    origin: int | None = None
    time_unit: str = "ms"
    placement: StimulusPlacement | None = None
    pixels_per_degree: float | None = None
    geometry: ViewingGeometry | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    workers: int = 1
    notes: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.dataset or not isinstance(self.dataset, str):
            raise ConfigError(f"dataset must be a non-empty name, got {self.dataset!r}")
        if self.eye not in EYE_CHOICES:
            raise ConfigError(f"eye must be one of {EYE_CHOICES}, got {self.eye!r}")
        if self.origin not in (None, 0, 1):
            raise ConfigError(f"origin must be 0 or 1, got {self.origin!r}")
        if self.time_unit not in TIME_UNITS_MS:
            raise ConfigError(f"time_unit must be one of {sorted(TIME_UNITS_MS)}, got {self.time_unit!r}")
        unknown = sorted(set(self.columns) - set(MAPPABLE_FIELDS))
        if unknown:
            raise ConfigError(f"unknown column-mapping field(s) {unknown}; expected some of {list(MAPPABLE_FIELDS)}")
        if self.stimulus_size is not None:
            w, h = self.stimulus_size
            if not (int(w) == w and int(h) == h and w > 0 and h > 0):
                raise ConfigError(f"stimulus_size must be two positive integers (width, height), got {self.stimulus_size}")
        if self.pixels_per_degree is not None and not (math.isfinite(self.pixels_per_degree)
                                                       and self.pixels_per_degree > 0):
            raise ConfigError(f"pixels_per_degree must be positive, got {self.pixels_per_degree!r}")
        if self.workers < 1:
            raise ConfigError(f"workers must be ≥ 1, got {self.workers}")


def parse_size(text: str) -> tuple[int, int]:
    """``"800x600"`` → (800, 600)."""
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise ConfigError(f"size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 800x600") from None
    if w <= 0 or h <= 0:
        raise ConfigError(f"size {text!r}: width and height must be positive")
    return w, h


def parse_column_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["x=gaze_x", "stimulus=img"]`` → ``{"x": "gaze_x", "stimulus": "img"}`` (validated)."""
    out: dict[str, str] = {}
    for item in items:
        field_name, sep, column = item.partition("=")
        field_name, column = field_name.strip(), column.strip()
        if not sep or not field_name or not column:
            raise ConfigError(f"column mapping {item!r}: expected FIELD=SOURCE_COLUMN, e.g. x=gaze_x")
        if field_name not in MAPPABLE_FIELDS:
            raise ConfigError(f"column mapping {item!r}: unknown field {field_name!r}; "
                              f"expected one of {list(MAPPABLE_FIELDS)}")
        if field_name in out:
            raise ConfigError(f"column mapping names field {field_name!r} twice")
        out[field_name] = column
    return out


def parse_key_values(items: list[str] | tuple[str, ...], what: str = "option") -> dict[str, str]:
    """``["events=ivt"]`` → ``{"events": "ivt"}``."""
    out: dict[str, str] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise ConfigError(f"{what} {item!r}: expected KEY=VALUE")
        out[k.strip()] = v.strip()
    return out
