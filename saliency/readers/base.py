"""What every reader shares: options and finalisation.

A reader turns one source file into a pandas frame of canonical fixation columns (see
:mod:`saliency.fixations.table`) in *stimulus* pixel coordinates, recording in a
:class:`saliency.fixations.accounting.Accounting` every record it keeps and every record it drops with
the reason (reasons: the constants in that module).
:func:`finalize` then applies the out-of-stimulus policy (drop or clip, counted) and validates.
No fixation disappears unaccounted: ``accounting.total_seen == kept + dropped`` per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import CLIPPED, OUTSIDE, UNKNOWN_STIMULUS, Accounting, source_file_of
from saliency.fixations.table import COLUMNS, DatasetMeta, FixationTable

OnError = Literal["raise", "skip"]
OutOfStimulus = Literal["drop", "clip"]


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
