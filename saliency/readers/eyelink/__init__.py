"""EyeLink ASC reader (SR Research EDF → ASC export): fixations per trial in stimulus pixels.

Public API (used by :mod:`saliency.ingest`)::

    read_asc(path, *, options=ReadOptions(), accounting=None, eye="mean", events="efix",
             stimulus_pattern=None, onset_pattern=None, default_stimulus=None, stimulus_sizes=None,
             placement=None, geometry=None, detection=None, dataset="eyelink", observer=None,
             encoding="utf-8", keep_samples=False) -> AscRecording

    AscRecording.fixations   pd.DataFrame of the canonical columns (saliency.fixations.table.COLUMNS),
                             x/y in stimulus pixels (0-based corners), not yet finalized
    AscRecording.trials      list[AscTrial]: trial number, TRIALID text, stimulus, onset, placement
    AscRecording.screen_px   (width, height) from DISPLAY_COORDS (else GAZE_COORDS), or None
    AscRecording.samples     dict trial → GazeSamples (only with events="ivt"/"idt" or keep_samples)
    AscRecording.to_table(meta, options, accounting) → FixationTable  (calls readers.base.finalize)

Streaming: the file is read in binary chunks (8 MiB); a single C-level regex scan per chunk finds the
lines that do not start with a digit (events, messages); sample lines are never split in Python: with
``events="efix"`` they are skipped, otherwise they are handed in bulk to pyarrow's CSV parser
(tab-separated, ``.`` = missing) and kept only as compact arrays of the chosen eye (or the binocular
mean): time float64, x/y float32, line and trial int32, 28 bytes per sample. Memory is
O(fixations + kept samples), never O(file) Python objects.

Conventions
-----------
Trials
    A trial is opened by a ``MSG <t> TRIALID <id>`` message and lasts (in *file order*) until the next
    TRIALID or a ``TRIAL_RESULT`` message. Trials are numbered 0, 1, 2… in file order (column
    ``trial``); the TRIALID text is kept in ``AscTrial.trial_id``. A file without any TRIALID has one
    trial per recording block (``START`` … ``END``). EFIX lines outside every trial are dropped as
    ``outside trial``.
Message times
    ``MSG <t> [<offset>] <text>``: an integer right after the time stamp is a Data Viewer offset; the
    message's time is ``t − offset`` (SR Research Data Viewer convention).
Stimulus
    By default from Data Viewer's ``!V IMGLOAD FILL|CENTER|TOP_LEFT <path> [x y [w h]]`` (the first
    one in the trial). With ``stimulus_pattern`` (a regex with a named group ``stimulus``, searched in
    the message text), the first matching message names the stimulus instead. The stimulus name is
    the path's base name (``Images/text.png`` → ``text.png``; ``\\`` separators understood). A trial
    without one uses ``default_stimulus``, else its EFIX are dropped as ``no stimulus message``.
Time origin
    ``t_start_ms`` = EFIX start − stimulus onset, where onset is the time of the first message in the
    trial matching ``onset_pattern`` if given, else of the stimulus message (IMGLOAD / pattern), else
    the trial start (first ``START`` line in the trial, else the TRIALID time). Fixations that *end*
    before onset are dropped (``ended before stimulus onset``); one spanning onset keeps its negative
    ``t_start_ms``. ``duration_ms`` is the EFIX duration field (end − start + one sample: 2 kHz files
    give halves, e.g. 132.5).
Eyes
    ``eye="left"``/``"right"``: that eye's EFIX; the other's are dropped as ``other eye``.
    ``eye="mean"``: in binocular recordings, each left EFIX is paired with the right EFIX of the same
    trial that overlaps it most in time (one-to-one, greedy by overlap, overlap > 0). A pair gives one
    row: x, y, start and duration are the means of the two eyes'; ``source`` is the left EFIX line;
    the right EFIX is counted as ``averaged with the other eye``. An EFIX without a partner is dropped
    as ``no simultaneous fixation of the other eye``. In monocular recordings ``mean`` keeps the
    recorded eye (``eye`` column = ``left``/``right``).
Blinks
    An EFIX that overlaps a blink of the same eye (``EBLINK``) for more than half its duration is
    dropped as ``during blink``. With detected fixations, samples inside blinks are set missing.
Screen
    ``DISPLAY_COORDS l t r b`` (else ``GAZE_COORDS``) gives the screen size; ``r``/``b`` are the
    last pixel's coordinates (1279 → 1280 px) — when ``r − l`` is even (exporters writing 1920.00 for
    a 1920-px screen) it is taken as the size itself.
Coordinates / placement
    EyeLink gaze is in screen pixels with the origin at the top-left corner (0-based, corners). The
    IMGLOAD placement maps them to stimulus pixels (``x_stim = (x − offset_x) / scale_x``; same for y):
    FILL: the image stretched over the whole screen (scale = screen / image size, offset 0);
    TOP_LEFT x y [w h]: top-left corner at (x, y), drawn w×h (default: image size, scale 1);
    CENTER x y [w h]: centred on (x, y), drawn w×h. The image size comes from ``stimulus_sizes``
    (name → (width, height)); it is required for FILL and for CENTER/TOP_LEFT without w h only when
    needed (a :class:`ConfigError` names the stimulus). Without IMGLOAD, ``placement`` (any object with
    ``screen_to_stimulus(x, y)``, e.g. ``saliency.fixations.placement.StimulusPlacement``) is used, else
    screen = stimulus pixels.
Detected fixations (``events="ivt"`` / ``"idt"``)
    Raw samples of the chosen eye (``mean``: the average of both eyes where both are valid) per trial
    go through :func:`saliency.fixations.detect.detect_fixations_ivt` / ``_idt`` with ``geometry``
    (a :class:`saliency.units.ViewingGeometry` of the screen, required) and ``detection`` (keyword
    overrides). EFIX lines are then ignored (counted as ``not used: fixations detected from samples``);
    ``source`` is the line of the fixation's first sample.
Bad input
    Every line that is not a sample must be a known ASC line (MSG, EFIX, START, END, SBLINK, …, header
    ``**``, calibration ``>>>``, indented continuation); anything else, an EFIX/START/END/MSG that does not
    parse, a NaN coordinate, a negative duration, bytes that are not ``encoding``, or an empty file
    raises :class:`ReaderError` naming file and line and what was expected. Under
    ``ReadOptions(on_error="skip")`` a bad EFIX is counted as dropped with its reason and any other bad
    line is counted under ``noted`` (``malformed line skipped``). With ``events="efix"`` sample lines are
    not parsed, hence not checked. An EFIX needs its pupil field (8 fields: a line cut before it may have
    lost digits of y); a duration that is ±inf or above 10⁹ ms is ``non-finite duration``. A UTF-16/32
    file (byte-order mark or sniffed) is transcoded, a UTF-8 mark skipped; NUL bytes, or no ASC keyword
    line at all, are an error even under ``skip`` (see docs/robustness.md).

Modules: :mod:`.lexer` (chunked scan, line kinds, EFIX, errors), :mod:`.messages` (trials, IMGLOAD
placement, stimulus names), :mod:`.samples` (raw samples), :mod:`.events` (EFIX/detected fixations → rows).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import Accounting
from saliency.fixations.table import DatasetMeta, FixationTable
from saliency.readers.base import ReadOptions, finalize
from saliency.readers.eyelink.events import detected_frame, efix_frame
from saliency.readers.eyelink.lexer import (
    BEFORE_ONSET,
    CHUNK_BYTES,
    LINE_SKIPPED,
    NO_STIMULUS,
    NOT_USED,
    OUTSIDE_TRIAL,
    PAIRED,
    SAMPLES_IN_BLINK,
    SAMPLES_MISSING,
    UNPAIRED,
    Events,
    Eye,
)
from saliency.readers.eyelink.messages import (
    AscTrial,
    ImgLoad,
    MessageMixin,
    compile_pattern,
    resolve_trials,
    stimulus_name,
)
from saliency.readers.eyelink.samples import SampleMixin, collect_samples
from saliency.readers.samples import GazeSamples
from saliency.units import ViewingGeometry

__all__ = [
    "BEFORE_ONSET",
    "CHUNK_BYTES",
    "LINE_SKIPPED",
    "NOT_USED",
    "NO_STIMULUS",
    "OUTSIDE_TRIAL",
    "PAIRED",
    "SAMPLES_IN_BLINK",
    "SAMPLES_MISSING",
    "UNPAIRED",
    "AscRecording",
    "AscTrial",
    "Events",
    "Eye",
    "ImgLoad",
    "read_asc",
    "stimulus_name",
]


@dataclass
class AscRecording:
    """What :func:`read_asc` found in one file (see the module docstring for the conventions)."""

    path: Path
    fixations: pd.DataFrame
    trials: list[AscTrial]
    screen_px: tuple[int, int] | None
    sample_rate_hz: float | None
    eyes_recorded: tuple[str, ...]
    samples: dict[int, GazeSamples] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)

    def stimuli(self) -> list[str]:
        return sorted({t.stimulus for t in self.trials if t.stimulus is not None})

    def to_table(self, meta: DatasetMeta, options: ReadOptions, accounting: Accounting) -> FixationTable:
        """Finalize into a validated :class:`FixationTable` (out-of-stimulus policy, counting)."""
        return finalize(self.fixations, meta, options, accounting)


class _Parser(MessageMixin, SampleMixin):
    """The single-pass parser: lexer + message + sample handling."""


def read_asc(
    path: str | Path,
    *,
    options: ReadOptions | None = None,
    accounting: Accounting | None = None,
    eye: Eye = "mean",
    events: Events = "efix",
    stimulus_pattern: str | re.Pattern[str] | None = None,
    onset_pattern: str | re.Pattern[str] | None = None,
    default_stimulus: str | None = None,
    stimulus_sizes: Mapping[str, tuple[int, int]] | Callable[[str], tuple[int, int] | None] | None = None,
    placement: Any = None,
    geometry: ViewingGeometry | None = None,
    detection: Mapping[str, float] | None = None,
    dataset: str = "eyelink",
    observer: str | None = None,
    encoding: str = "utf-8",
    keep_samples: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> AscRecording:
    """Read one ASC file into canonical fixation rows (stimulus px) plus per-trial stimulus info.

    See the module docstring for every convention. ``observer`` defaults to the file stem.
    ``stimulus_sizes`` maps a stimulus name to (width, height) px (or is a function doing so).
    Raises :class:`ReaderError` (file + line) on bad input unless ``options.on_error == "skip"``;
    every EFIX line seen ends up kept (after :func:`saliency.readers.base.finalize`) or counted
    in ``accounting`` with a reason.
    """
    options = options or ReadOptions()
    accounting = accounting if accounting is not None else Accounting()
    path = Path(path)
    if eye not in ("left", "right", "mean"):
        raise ConfigError(f"eye must be 'left', 'right' or 'mean', got {eye!r}")
    if events not in ("efix", "ivt", "idt"):
        raise ConfigError(f"events must be 'efix', 'ivt' or 'idt', got {events!r}")
    if events != "efix" and geometry is None:
        raise ConfigError(f"events={events!r} detects fixations in degrees: pass geometry=ViewingGeometry(...)")
    spat = compile_pattern(stimulus_pattern, "stimulus_pattern", need_group=True)
    opat = compile_pattern(onset_pattern, "onset_pattern", need_group=False)
    if not path.is_file():
        raise ReaderError("no such file: expected an EyeLink ASC export", path=path)

    p = _Parser(path, options, accounting, encoding, spat, opat, want_samples=events != "efix" or keep_samples,
                eye=eye)
    p.run(chunk_bytes)

    use_trialid = bool(p.by_trialid)
    trials = p.by_trialid if use_trialid else p.by_block
    screen = p.screen
    resolve_trials(trials, screen, default_stimulus, stimulus_sizes, placement)

    samples: dict[int, GazeSamples] = {}
    stats: dict[str, int] = {"efix_lines": len(p.fx_line)}
    if p.sample_parts:
        samples, sstats = collect_samples(p, use_trialid, eye)
        stats.update(sstats)
        if sstats.get("samples_missing"):
            accounting.note(path, SAMPLES_MISSING, sstats["samples_missing"])

    if events == "efix":
        frame = efix_frame(p, trials, use_trialid, eye, accounting, path, dataset,
                            observer or path.stem, placement)
    else:
        n_efix = len(p.fx_line)
        if n_efix:
            accounting.dropped(path, NOT_USED, n_efix)
        frame = detected_frame(samples, trials, events, geometry, detection or {}, accounting, path,
                                dataset, observer or path.stem, placement)
    if not keep_samples and events == "efix":
        samples = {}
    rate = p.sample_rate
    return AscRecording(path=path, fixations=frame, trials=trials, screen_px=screen, sample_rate_hz=rate,
                        eyes_recorded=p.eyes, samples=samples, stats=stats)
