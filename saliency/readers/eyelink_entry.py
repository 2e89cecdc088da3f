"""Registry adapter for the EyeLink ASC reader (:func:`saliency.readers.eyelink.read_asc`).

Maps a :class:`~saliency.readers.request.ReadRequest` onto ``read_asc``'s keywords:
``eye`` (auto/both → ``mean``: binocular EFIX pairs averaged, monocular files keep their eye),
``stimulus`` → ``default_stimulus``, the known stimulus sizes, ``placement``, ``geometry``, and the
``extra`` options ``events`` (efix | ivt | idt), ``stimulus_pattern``, ``onset_pattern``, ``observer``.
Stimulus sizes: the images (``--stimuli``), else ``--stimulus-size``, else — for trials drawn without
IMGLOAD or placement, where screen pixels are stimulus pixels — the screen size (DISPLAY_COORDS).
"""

from __future__ import annotations

from pathlib import Path

from saliency.errors import ConfigError
from saliency.fixations.table import FixationTable
from saliency.readers.base import Accounting
from saliency.readers.generic import frame_to_table, resolve_stimulus_names
from saliency.readers.request import ReadRequest

EXTRA_KEYS = ("events", "stimulus_pattern", "onset_pattern", "observer")


def read_eyelink_request(path: Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Read one ASC file through ``read_asc`` and finalise it with the request's stimulus list."""
    from saliency.readers.eyelink import read_asc

    unknown = sorted(set(request.extra) - set(EXTRA_KEYS))
    if unknown:
        raise ConfigError(f"unknown eyelink option(s) {unknown}; expected some of {list(EXTRA_KEYS)}")
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
                   dataset=request.dataset, observer=request.extra.get("observer"), encoding=request.encoding)
    frame = rec.fixations.copy()
    frame["stimulus"] = resolve_stimulus_names(frame["stimulus"].to_numpy(dtype=object), request.stimuli)
    screen_sizes = {tr.stimulus: tuple(tr.screen_px) for tr in rec.trials
                    if tr.stimulus and tr.placement is None and tr.screen_px}
    return frame_to_table(frame, request, accounting, "eyelink", Path(path), sizes=screen_sizes,
                          origin_text="0-based pixel corners (EyeLink screen px → stimulus px via placement)")
