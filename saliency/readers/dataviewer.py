"""EyeLink Data Viewer fixation reports (one row per fixation; CSV or tab-separated ``.xls``/``.txt``).

Columns used (SR Research Data Viewer User Manual, "Fixation Report" variables):

======================  =========================================================================
canonical field         Data Viewer column
======================  =========================================================================
x, y                    CURRENT_FIX_X, CURRENT_FIX_Y (display pixels, 0-based, as EyeLink reports)
observer                RECORDING_SESSION_LABEL
trial                   TRIAL_INDEX (Data Viewer's 1-based trial number, kept as is)
index                   CURRENT_FIX_INDEX − 1 (1-based in Data Viewer); else row order in the trial
t_start                 CURRENT_FIX_START (ms from the start of the trial's interest period); else NaN
duration                CURRENT_FIX_DURATION (ms)
eye                     EYE_USED (LEFT / RIGHT) when present
stimulus                the first present of IMAGE, image, STIMULUS, stimulus, image_file, page_name,
                        or any column given with ``--column stimulus=COL``; or ``--stimulus NAME``
======================  =========================================================================

Any field can be overridden with ``--column FIELD=COLUMN``. Missing values are written ``.`` by Data
Viewer: a missing x/y drops the fixation as non-finite (counted). Positions are *display* pixels: when
the image was not drawn at the top-left corner at its own size, pass a placement (``--placement
OX,OY[,SCALE]``, see :mod:`saliency.fixations.placement`) to obtain stimulus pixels.
"""

from __future__ import annotations

from pathlib import Path

from saliency.fixations.accounting import Accounting
from saliency.fixations.table import FixationTable
from saliency.readers.generic import build_frame, frame_to_table, load_source
from saliency.readers.request import ReadRequest

DEFAULT_COLUMNS = {
    "x": "CURRENT_FIX_X", "y": "CURRENT_FIX_Y", "observer": "RECORDING_SESSION_LABEL", "trial": "TRIAL_INDEX",
    "index": "CURRENT_FIX_INDEX", "t_start": "CURRENT_FIX_START", "duration": "CURRENT_FIX_DURATION",
    "eye": "EYE_USED",
}
STIMULUS_CANDIDATES = ("IMAGE", "image", "STIMULUS", "stimulus", "image_file", "IMAGE_FILE", "imagefile",
                       "page_name")


def dataviewer_mapping(columns: list[str], overrides: dict[str, str]) -> dict[str, str]:
    """The column mapping for a report with these columns: defaults that exist, then the overrides."""
    present = set(columns)
    mapping = {f: c for f, c in DEFAULT_COLUMNS.items() if c in present}
    stim = next((c for c in STIMULUS_CANDIDATES if c in present), None)
    if stim is not None:
        mapping["stimulus"] = stim
    mapping.update(overrides)
    return mapping


def read_dataviewer(path: str | Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Read one Data Viewer fixation report into a validated table (see the module docstring)."""
    src = load_source(path, encoding=request.encoding, delimiter=request.delimiter)
    mapping = dataviewer_mapping(list(src.frame.columns), dict(request.columns))
    if request.stimulus is not None and "stimulus" not in request.columns:
        mapping.pop("stimulus", None)
    index_origin = 1 if mapping.get("index") == DEFAULT_COLUMNS["index"] else 0
    frame = build_frame(src, mapping, request, accounting, default_origin=0, index_origin=index_origin,
                        time_factor_ms=1.0)
    return frame_to_table(frame, request, accounting, "dataviewer", Path(path),
                          origin_text="0-based display pixels → stimulus pixels via placement"
                          if request.placement is not None else "0-based pixel corners")
