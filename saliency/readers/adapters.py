"""Registry adapters for the readers of the ingest-eyelink area (EyeLink ASC, DOVES, raw sample tables).

Each maps a :class:`~saliency.readers.request.ReadRequest` onto the reader's own keywords and returns
a finalised :class:`FixationTable`; format-specific options come from ``request.extra``
(``--option KEY=VALUE``) and are validated here.

eyelink (:func:`saliency.readers.eyelink.read_asc`)
    ``eye``: auto/both → ``mean`` (binocular EFIX pairs averaged; monocular files keep their eye);
    ``--stimulus`` → ``default_stimulus``; stimulus sizes from ``--stimuli`` or ``--stimulus-size``,
    else — for trials without IMGLOAD or placement, where screen pixels are stimulus pixels — the
    screen size (DISPLAY_COORDS). Options: ``events`` (efix | ivt | idt), ``stimulus_pattern``,
    ``onset_pattern``, ``observer``.
doves (:func:`saliency.readers.doves.read_doves`)
    One ``imgNNN.mat`` per stimulus; option ``events`` = authors (default) | ivt | idt.
samples (:func:`saliency.readers.samples.read_samples` + :mod:`saliency.fixations.detect`)
    Raw gaze tables (``time, x, y`` or binocular ``x_left …``); fixations detected per trial with
    ``events`` = ivt (default) | idt, in degrees from ``--ppd`` or the dataset card (a geometry with
    pixels per degree). Positions are screen pixels (``--placement`` maps them onto the stimulus);
    the stimulus is ``--stimulus`` and its size ``--stimulus-size`` or ``--stimuli``; the observer is
    the file's stem (or option ``observer``). Detection keyword overrides: ``velocity_threshold_dva_s``,
    ``dispersion_threshold_dva``, ``min_duration_ms``, ``merge_max_gap_ms``, ``merge_max_distance_dva``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from saliency.errors import ConfigError
from saliency.fixations.accounting import Accounting
from saliency.fixations.table import FixationTable, empty_frame
from saliency.readers.base import finalize
from saliency.readers.generic import frame_to_table, resolve_stimulus_names
from saliency.readers.request import ReadRequest

DETECTION_KEYS = ("velocity_threshold_dva_s", "dispersion_threshold_dva", "min_duration_ms", "merge_max_gap_ms",
                  "merge_max_distance_dva", "max_gap_factor")


def _check_extra(request: ReadRequest, fmt: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(request.extra) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown {fmt} option(s) {unknown}; expected some of {list(allowed)}")


def _detection(request: ReadRequest) -> dict[str, float]:
    out = {}
    for k in DETECTION_KEYS:
        if k in request.extra:
            try:
                out[k] = float(request.extra[k])
            except ValueError:
                raise ConfigError(f"option {k}={request.extra[k]!r}: expected a number") from None
    return out


def read_eyelink_request(path: Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Read one ASC file through ``read_asc`` and finalise it with the request's stimulus list."""
    from saliency.readers.eyelink import read_asc

    _check_extra(request, "eyelink", ("events", "stimulus_pattern", "onset_pattern", "observer", *DETECTION_KEYS))
    eye = {"auto": "mean", "both": "mean"}.get(request.eye, request.eye)
    sizes = None
    if request.stimuli is not None:
        sizes = {k: (s.width_px, s.height_px) for k, s in request.stimuli.items()}
    elif request.stimulus_size is not None:
        fixed = tuple(request.stimulus_size)
        sizes = lambda _name: fixed  # noqa: E731
    rec = read_asc(path, options=request.options, accounting=accounting, eye=eye,
                   events=request.extra.get("events", "efix"),
                   stimulus_pattern=request.extra.get("stimulus_pattern"),
                   onset_pattern=request.extra.get("onset_pattern"), default_stimulus=request.stimulus,
                   stimulus_sizes=sizes, placement=request.placement, geometry=request.geometry,
                   detection=_detection(request) or None, dataset=request.dataset,
                   observer=request.extra.get("observer"), encoding=request.encoding)
    frame = rec.fixations.copy()
    frame["stimulus"] = resolve_stimulus_names(frame["stimulus"].to_numpy(dtype=object), request.stimuli)
    screen_sizes = {tr.stimulus: tuple(tr.screen_px) for tr in rec.trials
                    if tr.stimulus and tr.placement is None and tr.screen_px}
    return frame_to_table(frame, request, accounting, "eyelink", Path(path), sizes=screen_sizes,
                          origin_text="0-based pixel corners (EyeLink screen px → stimulus px via placement)")


def read_doves_request(path: Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Read one DOVES ``imgNNN.mat`` (authors' fixations by default)."""
    from saliency.readers.doves import read_doves

    _check_extra(request, "doves", ("events", *DETECTION_KEYS))
    events = request.extra.get("events", "authors")
    img = read_doves(path, options=request.options, accounting=accounting, fixations=events,
                     geometry=request.geometry, detection=_detection(request) or None, dataset=request.dataset)
    meta = img.meta(request.dataset)
    return finalize(img.fixations, meta, request.options, accounting)


def read_samples_request(path: Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Detect fixations (I-VT / I-DT) in one raw sample table; see the module docstring."""
    from saliency.fixations.detect import DETECTORS
    from saliency.readers.samples import read_samples
    from saliency.units import ViewingGeometry

    _check_extra(request, "samples", ("events", "observer", "time_column", *DETECTION_KEYS))
    events = request.extra.get("events", "ivt")
    if events not in DETECTORS:
        raise ConfigError(f"samples option events={events!r}: expected one of {sorted(DETECTORS)}")
    if request.stimulus is None:
        raise ConfigError("samples: pass --stimulus NAME (the image the samples were recorded on)")
    geometry = request.geometry
    if geometry is None:
        if request.pixels_per_degree is None:
            raise ConfigError("samples: fixation detection works in degrees; pass --ppd or a dataset card "
                              "with pixels_per_degree")
        w, h = request.stimulus_size or (1, 1)
        geometry = ViewingGeometry(int(w), int(h), ppd_override=request.pixels_per_degree)
    eye = {"auto": "mean", "both": "mean"}.get(request.eye, request.eye)
    path = Path(path)
    s = read_samples(path, eye=eye, options=request.options, accounting=accounting,
                     time_column=request.extra.get("time_column"), delimiter=request.delimiter,
                     encoding=request.encoding)
    observer = request.extra.get("observer", path.stem)
    rows = []
    for trial in np.unique(s.trial):
        m = s.trial == trial
        det = DETECTORS[events](s.time_ms[m], s.x_px[m], s.y_px[m], geometry, **_detection(request))
        n = len(det)
        if n == 0:
            continue
        x, y = det.x_px, det.y_px
        if request.placement is not None:
            x, y = request.placement.screen_to_stimulus(x, y)
        t0 = s.time_ms[m][0]
        rows.append(pd.DataFrame({
            "dataset": request.dataset, "stimulus": request.stimulus, "observer": observer,
            "trial": int(trial), "index": np.arange(n), "x": x, "y": y, "t_start_ms": det.t_start_ms - t0,
            "duration_ms": det.duration_ms, "eye": s.eye if s.eye in ("left", "right", "mean") else "unknown",
            "source": [f"{path}:{int(v)}" for v in s.line[m][det.first_sample]]}))
    frame = pd.concat(rows, ignore_index=True) if rows else empty_frame()
    return frame_to_table(frame, request, accounting, "samples", path,
                          origin_text="0-based pixel corners (detected from raw samples)")
