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
    not parsed, hence not checked.
"""

from __future__ import annotations

import io
import math
import re
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import (
    BLINK,
    MALFORMED,
    NEGATIVE_DURATION,
    NON_FINITE,
    OTHER_EYE,
    Accounting,
)
from saliency.fixations.table import COLUMNS, DatasetMeta, FixationTable
from saliency.readers.base import ReadOptions, finalize
from saliency.readers.samples import GazeSamples
from saliency.units import ViewingGeometry

Eye = Literal["left", "right", "mean"]
Events = Literal["efix", "ivt", "idt"]

OUTSIDE_TRIAL = "outside trial"
NO_STIMULUS = "no stimulus message"
BEFORE_ONSET = "ended before stimulus onset"
PAIRED = "averaged with the other eye"
UNPAIRED = "no simultaneous fixation of the other eye"
NOT_USED = "not used: fixations detected from samples"
LINE_SKIPPED = "malformed line skipped"
SAMPLES_MISSING = "raw samples missing (blink or track loss)"
SAMPLES_IN_BLINK = "raw samples inside blinks"

CHUNK_BYTES = 8 << 20
# a newline followed by a line that does not start with a digit (literal prefix: fast C scan)
_NONSAMPLE = re.compile(rb"\n(?![0-9])[^\n]*")
_OFFSET = re.compile(r"^(-?\d+)\s+(.*)$", re.S)
_KNOWN = {b"MSG", b"EFIX", b"SFIX", b"SSACC", b"ESACC", b"SBLINK", b"EBLINK", b"START", b"END",
          b"SAMPLES", b"EVENTS", b"PRESCALER", b"VPRESCALER", b"PUPIL", b"INPUT", b"BUTTON", b"PARSEDBY"}
_MSG_KEYS = re.compile(rb"TRIALID|TRIAL_RESULT|DISPLAY_COORDS|GAZE_COORDS|IMGLOAD")
_EYE_CODE = {b"L": 0, b"R": 1}
_EYE_NAME = ("left", "right")
_NULLS = [" " * k + "." for k in range(12)]


@dataclass(frozen=True)
class ImgLoad:
    """A Data Viewer ``!V IMGLOAD`` placement: mode FILL, CENTER or TOP_LEFT, position and drawn size (px)."""

    mode: str
    path: str
    x_px: float | None = None
    y_px: float | None = None
    width_px: float | None = None
    height_px: float | None = None

    def offsets_and_scales(self, image_size: tuple[int, int] | None,
                           screen_px: tuple[int, int] | None) -> tuple[float, float, float, float]:
        """(offset_x_px, offset_y_px, scale_x, scale_y): the image's top-left corner on the screen and the
        screen pixels per image pixel (the parameters of ``StimulusPlacement``)."""
        def need_size() -> tuple[int, int]:
            if image_size is None:
                raise ConfigError(f"IMGLOAD {self.mode} {self.path}: the image size is needed to place it; "
                                  "pass stimulus_sizes={name: (width, height)}")
            return image_size

        if self.mode == "FILL":
            iw, ih = need_size()
            if screen_px is None:
                raise ConfigError(f"IMGLOAD FILL {self.path}: screen size unknown (no DISPLAY_COORDS/GAZE_COORDS)")
            return 0.0, 0.0, screen_px[0] / iw, screen_px[1] / ih
        x0, y0 = float(self.x_px or 0.0), float(self.y_px or 0.0)
        if self.width_px is not None and self.height_px is not None:
            iw, ih = need_size()
            dw, dh = float(self.width_px), float(self.height_px)
            sx, sy = dw / iw, dh / ih
        elif self.mode == "TOP_LEFT":
            return x0, y0, 1.0, 1.0
        else:
            iw, ih = need_size()
            dw, dh, sx, sy = float(iw), float(ih), 1.0, 1.0
        if self.mode == "CENTER":
            x0, y0 = x0 - dw / 2.0, y0 - dh / 2.0
        return x0, y0, sx, sy


@dataclass
class AscTrial:
    """One trial: ``index`` is the ``trial`` column; times are tracker ms; line = line opening the trial."""

    index: int
    trial_id: str | None
    line: int
    start_ms: float | None = None
    onset_ms: float | None = None
    stimulus: str | None = None
    stimulus_path: str | None = None
    imgload: ImgLoad | None = None
    placement: dict[str, float] | None = None  # offset_x_px, offset_y_px, scale_x, scale_y
    screen_px: tuple[int, int] | None = None
    _stim_ms: float | None = None
    _onset_msg_ms: float | None = None
    _trialid_ms: float | None = None


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


# ---------------------------------------------------------------------------------------------
class _Parser:
    """Single pass over the file; keeps compact arrays only."""

    def __init__(self, path: Path, options: ReadOptions, accounting: Accounting, encoding: str,
                 stimulus_pattern: re.Pattern[str] | None, onset_pattern: re.Pattern[str] | None,
                 want_samples: bool, eye: str = "mean") -> None:
        self.path, self.options, self.acc, self.encoding = path, options, accounting, encoding
        self.stimulus_pattern, self.onset_pattern = stimulus_pattern, onset_pattern
        self.want_samples = want_samples
        self.eye = eye
        self.patterns = stimulus_pattern is not None or onset_pattern is not None
        # EFIX: line, eye, start, end, dur, x, y, trial_seq, block_seq
        self.fx_line = array("q")
        self.fx_eye = array("b")
        self.fx_num = array("d")  # start, end, dur, x, y interleaved
        self.fx_seq = array("q")  # trial_seq, block_seq interleaved
        self.blinks = array("d")  # eye, start, end
        self.by_trialid: list[AscTrial] = []
        self.by_block: list[AscTrial] = []
        self.trial_seq = -1  # index into by_trialid of the open trial, -1 none
        self.block_seq = -1  # index into by_block of the open recording block, -1 none
        self.in_block = False
        self.screen_display: tuple[int, int] | None = None
        self.screen_gaze: tuple[int, int] | None = None
        self.sample_rate: float | None = None
        self.eyes: tuple[str, ...] = ()
        self.block_eyes: list[tuple[str, ...]] = []
        self.n_lines = 0
        self.n_nonempty = 0
        # samples
        self.sample_buf: list[bytes] = []
        self.sample_segs: list[tuple[int, int, int, int]] = []  # first line, n lines, trial_seq, block_seq
        self.sample_buf_bytes = 0
        self.sample_parts: list[tuple[np.ndarray, ...]] = []
        self.samples_fmt: tuple[bytes, ...] = ()
        self.buf_layout: tuple | None = None  # (eyes, SAMPLES line) of the buffered sample lines

    # -- errors ------------------------------------------------------------------------------
    def bad(self, line: int, what: str, *, efix: bool = False, reason: str = MALFORMED) -> None:
        exc = ReaderError(what, path=self.path, line=line)
        if self.options.on_error == "raise":
            raise exc
        if efix:
            self.acc.dropped(self.path, reason, example=f"line {line}: {what}")
        else:
            self.acc.note(self.path, LINE_SKIPPED)

    # -- driver --------------------------------------------------------------------------------
    def run(self, chunk_bytes: int) -> None:
        lineno = 1  # number of the line starting at chunk offset 0
        rest = b""
        with open(self.path, "rb") as fh:
            while True:
                data = fh.read(chunk_bytes)
                eof = not data
                buf = rest + data
                if not buf:
                    break
                if eof:
                    cut = len(buf)
                    rest = b""
                else:
                    cut = buf.rfind(b"\n") + 1
                    if cut == 0:
                        rest = buf
                        continue
                    buf, rest = buf[:cut], buf[cut:]
                lineno = self._chunk(buf, lineno)
                if eof:
                    break
        self._flush_samples()
        if self.n_nonempty == 0:
            raise ReaderError("empty file: expected an EyeLink ASC export (MSG, EFIX and sample lines)",
                              path=self.path, line=1)
        if self.in_block:
            self.acc.note(self.path, "recording block without END (truncated file?)")

    def _chunk(self, buf: bytes, lineno: int) -> int:
        pos = 0
        want = self.want_samples and self.in_block
        count = buf.count
        size = len(buf)
        # prefix a newline so that the chunk's first line is found like the others; positions of
        # matches in the prefixed buffer are the line starts in ``buf``
        for m in _NONSAMPLE.finditer(b"\n" + buf):
            s = m.start()
            if s >= size:  # the empty match after the final newline is not a line
                break
            if s > pos:  # sample lines between pos and s
                n = count(b"\n", pos, s)
                if want:
                    self._add_samples(buf[pos:s], lineno, n)
                self.n_nonempty += n
                lineno += n
            line = m.group()[1:]
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.strip():
                self.n_nonempty += 1
                self._line(line, lineno)
                want = self.want_samples and self.in_block
            e = m.end() - 1
            lineno += 1
            pos = e + 1
        if pos < len(buf):
            n = count(b"\n", pos)
            tail_nl = 0 if buf.endswith(b"\n") else 1
            if want:
                self._add_samples(buf[pos:], lineno, n + tail_nl)
            self.n_nonempty += n + tail_nl
            lineno += n + tail_nl
        return lineno

    # -- one non-sample line -------------------------------------------------------------------
    def _line(self, line: bytes, no: int) -> None:
        c0 = line[:1]
        if c0 in (b" ", b"\t") or line.startswith((b"**", b">>>", b";")):
            return
        parts = line.split(None, 1)
        kw = parts[0]
        if kw == b"MSG":
            # fast path: a message the reader cannot use (no user pattern, no keyword) is only checked
            # for its encoding (ASCII is valid in every supported encoding)
            if self.patterns or not line.isascii() or _MSG_KEYS.search(line):
                self._msg(line, no)
        elif kw == b"EFIX":
            self._efix(line, no)
        elif kw == b"EBLINK":
            f = line.split()
            try:
                self.blinks.extend((_EYE_CODE[f[1]], float(f[2]), float(f[3])))
            except (IndexError, KeyError, ValueError):
                self.bad(no, f"malformed EBLINK line {_show(line)}: expected 'EBLINK L|R start end duration'")
        elif kw == b"START":
            self._start(line, no)
        elif kw == b"END":
            f = line.split()
            if len(f) < 2 or not _is_number(f[1]):
                self.bad(no, f"malformed END line {_show(line)}: expected 'END <time> ...'")
            self.in_block = False
        elif kw == b"SAMPLES":
            f = line.split()
            self.samples_fmt = tuple(f)
            if b"RATE" in f:
                i = f.index(b"RATE")
                if i + 1 < len(f) and _is_number(f[i + 1]):
                    self.sample_rate = float(f[i + 1])
        elif kw in _KNOWN:
            return
        else:
            self.bad(no, f"unknown line {_show(line)}: expected a sample (time stamp first) or an ASC "
                         "keyword (MSG, EFIX, START, END, SBLINK, EBLINK, ...)")

    def _start(self, line: bytes, no: int) -> None:
        f = line.split()
        if len(f) < 2 or not _is_number(f[1]):
            self.bad(no, f"malformed START line {_show(line)}: expected 'START <time> LEFT|RIGHT ...'")
            return
        eyes = tuple(n for tok, n in ((b"LEFT", "left"), (b"RIGHT", "right")) if tok in f[2:])
        self.eyes = tuple(sorted(set(self.eyes) | set(eyes)))
        self.block_eyes.append(eyes)
        self.block_seq += 1
        self.in_block = True
        t = float(f[1])
        self.by_block.append(AscTrial(index=self.block_seq, trial_id=None, line=no, start_ms=t))
        if self.trial_seq >= 0 and self.by_trialid[self.trial_seq].start_ms is None:
            self.by_trialid[self.trial_seq].start_ms = t

    def _efix(self, line: bytes, no: int) -> None:
        f = line.split()
        if len(f) < 7 or f[1] not in _EYE_CODE:
            self.bad(no, f"malformed EFIX line {_show(line)}: expected 'EFIX L|R start end duration x y pupil'",
                     efix=True)
            return
        try:
            start, end, dur = float(f[2]), float(f[3]), float(f[4])
            x = math.nan if f[5] == b"." else float(f[5])
            y = math.nan if f[6] == b"." else float(f[6])
        except ValueError:
            self.bad(no, f"malformed EFIX line {_show(line)}: start, end, duration, x, y must be numbers",
                     efix=True)
            return
        if not (math.isfinite(start) and math.isfinite(end) and math.isfinite(dur)):
            self.bad(no, f"EFIX times must be finite numbers, got {_show(line)}", efix=True)
            return
        if dur < 0 or end < start:
            self.bad(no, f"EFIX has a negative duration ({_show(line)}): expected end ≥ start, duration ≥ 0",
                     efix=True, reason=NEGATIVE_DURATION)
            return
        if not (math.isfinite(x) and math.isfinite(y)):
            self.bad(no, f"EFIX position is missing or not finite ({_show(line)}): expected x, y in pixels",
                     efix=True, reason=NON_FINITE)
            return
        self.fx_line.append(no)
        self.fx_eye.append(_EYE_CODE[f[1]])
        self.fx_num.extend((start, end, dur, x, y))
        self.fx_seq.extend((self.trial_seq, self.block_seq if self.in_block else -1))

    def _msg(self, line: bytes, no: int) -> None:
        try:
            text = line.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self.bad(no, f"bytes not valid {self.encoding} at column {exc.start + 1} "
                         f"({line[exc.start:exc.start + 4]!r}); pass encoding='latin-1' (or the file's encoding)")
            return
        parts = text.split(None, 2)
        if len(parts) < 2 or not _is_number(parts[1].encode()):
            self.bad(no, f"malformed MSG line {text[:80]!r}: expected 'MSG <time> <text>'")
            return
        t = float(parts[1])
        body = parts[2].strip() if len(parts) > 2 else ""
        m = _OFFSET.match(body)
        if m:
            t -= float(m.group(1))
            body = m.group(2)
        if body.startswith("TRIALID"):
            self.trial_seq = len(self.by_trialid)
            tid = body[7:].strip()
            self.by_trialid.append(AscTrial(index=self.trial_seq, trial_id=tid, line=no, _trialid_ms=t,
                                            start_ms=None))
        elif body.startswith("TRIAL_RESULT"):
            self.trial_seq = -1
        elif body.startswith(("DISPLAY_COORDS", "GAZE_COORDS")):
            size = _coords(body)
            if size is None:
                self.bad(no, f"malformed {body.split()[0]} message {body!r}: expected 'left top right bottom'")
                return
            if body.startswith("DISPLAY_COORDS"):
                self.screen_display = size
            else:
                self.screen_gaze = size
        targets = [tr for tr in (self._open_trial(), self._open_block()) if tr is not None]
        if not targets:
            return
        img = _imgload(body) if "IMGLOAD" in body else None
        if img is not None and img is False:
            self.bad(no, f"malformed IMGLOAD message {body!r}: expected '!V IMGLOAD FILL|CENTER|TOP_LEFT "
                         "<path> [x y [width height]]'")
            img = None
        stim = None
        if self.stimulus_pattern is not None:
            sm = self.stimulus_pattern.search(body)
            if sm is not None:
                stim = sm.group("stimulus")
        elif isinstance(img, ImgLoad):
            stim = img.path
        onset = self.onset_pattern is not None and self.onset_pattern.search(body) is not None
        for tr in targets:
            if isinstance(img, ImgLoad) and tr.imgload is None:
                tr.imgload = img
            if stim and tr.stimulus_path is None:
                tr.stimulus_path = stim
                tr._stim_ms = t
            if onset and tr._onset_msg_ms is None:
                tr._onset_msg_ms = t
            tr.screen_px = self.screen

    @property
    def screen(self) -> tuple[int, int] | None:
        return self.screen_display or self.screen_gaze

    def _open_trial(self) -> AscTrial | None:
        return self.by_trialid[self.trial_seq] if self.trial_seq >= 0 else None

    def _open_block(self) -> AscTrial | None:
        return self.by_block[self.block_seq] if self.in_block else None

    # -- samples ---------------------------------------------------------------------------------
    def _add_samples(self, data: bytes, first_line: int, n_lines: int) -> None:
        if n_lines <= 0:
            return
        if not data.endswith(b"\n"):
            data += b"\n"
        # sample lines of consecutive blocks with the same layout are parsed together
        layout = (self.block_eyes[-1] if self.block_eyes else ("left",), self.samples_fmt)
        if self.sample_buf and layout != self.buf_layout:
            self._flush_samples()
        self.buf_layout = layout
        self.sample_buf.append(data)
        self.sample_segs.append((first_line, n_lines, self.trial_seq, self.block_seq))
        self.sample_buf_bytes += len(data)
        if self.sample_buf_bytes >= CHUNK_BYTES:
            self._flush_samples()

    def _flush_samples(self) -> None:
        if not self.sample_buf:
            return
        data = b"".join(self.sample_buf)
        segs = np.asarray(self.sample_segs, dtype=np.int64)
        self.sample_buf, self.sample_segs, self.sample_buf_bytes = [], [], 0
        eyes = self.buf_layout[0] if self.buf_layout else ("left",)
        binocular = len(eyes) == 2
        # file line of every sample: segment starts repeated + offsets within each segment
        starts = np.repeat(segs[:, 0] - np.concatenate(([0], np.cumsum(segs[:-1, 1]))), segs[:, 1])
        lines = starts + np.arange(int(segs[:, 1].sum()))
        tseq = np.repeat(segs[:, 2].astype(np.int32), segs[:, 1])
        bseq = np.repeat(segs[:, 3].astype(np.int32), segs[:, 1])
        cols = _parse_samples_fast(data, binocular)
        if cols is None or cols[0].shape[0] != lines.shape[0]:
            cols, keep = self._parse_samples_slow(data, lines, binocular)
            lines, tseq, bseq = lines[keep], tseq[keep], bseq[keep]
        t, xl, yl, xr, yr = cols
        # keep only the chosen eye (or the binocular mean): label 0 left, 1 right, 2 mean
        if binocular:
            if self.eye == "mean":
                x, y, label = (xl + xr) / 2, (yl + yr) / 2, 2
            else:
                label = 0 if self.eye == "left" else 1
                x, y = (xl, yl) if label == 0 else (xr, yr)
        else:
            recorded = 1 if eyes == ("right",) else 0
            label = recorded if self.eye == "mean" else (0 if self.eye == "left" else 1)
            if label == recorded:
                x, y = xl, yl  # a monocular block's only eye is parsed into the first columns
            else:  # the other eye was asked for: every sample is missing
                x = y = np.broadcast_to(np.float32(np.nan), t.shape)
        self.sample_parts.append((t, np.asarray(x, np.float32), np.asarray(y, np.float32), label,
                                  lines.astype(np.int32), tseq, bseq))

    def _parse_samples_slow(self, data: bytes, lines: np.ndarray, binocular: bool):
        """Line-by-line parse to find (and name) the bad line; under skip drops it."""
        need = 6 if binocular else 3
        rows, keep = [], []
        for k, raw in enumerate(data.split(b"\n")[: lines.shape[0]]):
            f = raw.split()
            vals = None
            if len(f) >= need:  # time x y | time xl yl pl xr yr (the columns the fast path needs)
                try:
                    vals = [float(v) if v != b"." else math.nan for v in f[:need]]
                except ValueError:
                    vals = None
            if vals is None or not math.isfinite(vals[0]):
                layout = "time xl yl pl xr yr pr" if binocular else "time x y pupil"
                self.bad(int(lines[k]), f"malformed sample line {_show(raw)}: expected '{layout} ...' "
                                        "numbers ('.' = missing)")
                continue
            if binocular:
                rows.append((vals[0], vals[1], vals[2], vals[4], vals[5]))
            else:
                rows.append((vals[0], vals[1], vals[2], math.nan, math.nan))
            keep.append(k)
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        cols = (arr[:, 0], arr[:, 1].astype(np.float32), arr[:, 2].astype(np.float32),
                arr[:, 3].astype(np.float32), arr[:, 4].astype(np.float32))
        return cols, np.asarray(keep, dtype=np.int64)


def _parse_samples_fast(data: bytes, binocular: bool):
    """pyarrow CSV over tab-separated sample lines; None when any line does not fit."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        first = data[: data.find(b"\n")]
        ncol = first.count(b"\t") + 1
        names = [f"c{i}" for i in range(ncol)]
        need = [0, 1, 2, 4, 5] if binocular else [0, 1, 2]
        if max(need) >= ncol:
            return None
        types = {names[i]: pa.float64() for i in need}
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=_NULLS,
                                                 include_columns=[names[i] for i in need]),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    t = table.column(0).to_numpy(zero_copy_only=False)
    if t.size and not np.isfinite(t).all():
        return None

    def col(i: int) -> np.ndarray:
        return table.column(names[i]).to_numpy(zero_copy_only=False).astype(np.float32)

    if binocular:
        return t, col(1), col(2), col(4), col(5)
    nan = np.broadcast_to(np.float32(np.nan), t.shape)  # the absent eye: a zero-memory view
    return t, col(1), col(2), nan, nan


def _is_number(tok: bytes) -> bool:
    try:
        return math.isfinite(float(tok))
    except ValueError:
        return False


def _show(line: bytes | str) -> str:
    s = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    s = s.replace("\t", " ")
    return repr(s if len(s) <= 80 else s[:77] + "...")


def _coords(body: str) -> tuple[int, int] | None:
    f = body.split()
    try:
        left, top, right, bottom = (float(v) for v in f[1:5])
    except ValueError:
        return None
    if len(f) < 5:
        return None

    def size(a: float, b: float) -> int:
        d = round(b - a)
        return d if d % 2 == 0 else d + 1

    w, h = size(left, right), size(top, bottom)
    return (w, h) if w > 0 and h > 0 else None


def _imgload(body: str) -> ImgLoad | bool | None:
    """Parse ``!V IMGLOAD MODE path [x y [w h]]``; False when malformed, None when not IMGLOAD."""
    f = body.split()
    try:
        i = f.index("IMGLOAD")
    except ValueError:
        return None
    if i == 0 or f[i - 1] != "!V":
        return None
    rest = f[i + 1:]
    if len(rest) < 2 or rest[0].upper() not in ("FILL", "CENTER", "TOP_LEFT"):
        return False
    mode = rest[0].upper()
    tail = rest[1:]
    nums: list[float] = []
    if mode != "FILL":
        while tail and len(nums) < 4 and _is_number(tail[-1].encode()) and len(tail) > 1:
            nums.insert(0, float(tail.pop()))
        if len(nums) not in (0, 2, 4):
            return False
    path = " ".join(tail)
    if not path:
        return False
    if not nums:
        if mode != "FILL":
            return False  # CENTER/TOP_LEFT need a position
        return ImgLoad(mode, path)
    if len(nums) == 2:
        return ImgLoad(mode, path, nums[0], nums[1])
    return ImgLoad(mode, path, nums[0], nums[1], nums[2], nums[3])


def stimulus_name(path: str) -> str:
    """The base name of an IMGLOAD/message path (``/`` or ``\\`` separated)."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------------------------
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
    spat = _compile(stimulus_pattern, "stimulus_pattern", need_group=True)
    opat = _compile(onset_pattern, "onset_pattern", need_group=False)
    if not path.is_file():
        raise ReaderError("no such file: expected an EyeLink ASC export", path=path)

    p = _Parser(path, options, accounting, encoding, spat, opat, want_samples=events != "efix" or keep_samples,
                eye=eye)
    p.run(chunk_bytes)

    use_trialid = bool(p.by_trialid)
    trials = p.by_trialid if use_trialid else p.by_block
    screen = p.screen
    for tr in trials:
        tr.screen_px = tr.screen_px or screen
        if tr.start_ms is None:
            tr.start_ms = tr._trialid_ms
        if tr.stimulus_path is None and default_stimulus is not None:
            tr.stimulus_path = default_stimulus
        tr.stimulus = stimulus_name(tr.stimulus_path) if tr.stimulus_path else None
        tr.onset_ms = (tr._onset_msg_ms if tr._onset_msg_ms is not None
                       else tr._stim_ms if tr._stim_ms is not None else tr.start_ms)
        if tr.stimulus is not None:
            size = _size_of(stimulus_sizes, tr.stimulus)
            if tr.imgload is not None:
                ox, oy, sx, sy = tr.imgload.offsets_and_scales(size, tr.screen_px)
                tr.placement = {"offset_x_px": ox, "offset_y_px": oy, "scale_x": sx, "scale_y": sy}
            elif placement is not None and hasattr(placement, "to_dict"):
                tr.placement = dict(placement.to_dict())

    samples: dict[int, GazeSamples] = {}
    stats: dict[str, int] = {"efix_lines": len(p.fx_line)}
    if p.sample_parts:
        samples, sstats = _collect_samples(p, use_trialid, eye)
        stats.update(sstats)
        if sstats.get("samples_missing"):
            accounting.note(path, SAMPLES_MISSING, sstats["samples_missing"])

    if events == "efix":
        frame = _efix_frame(p, trials, use_trialid, eye, accounting, path, dataset,
                            observer or path.stem, placement)
    else:
        n_efix = len(p.fx_line)
        if n_efix:
            accounting.dropped(path, NOT_USED, n_efix)
        frame = _detected_frame(samples, trials, events, geometry, detection or {}, accounting, path,
                                dataset, observer or path.stem, placement)
    if not keep_samples and events == "efix":
        samples = {}
    rate = p.sample_rate
    return AscRecording(path=path, fixations=frame, trials=trials, screen_px=screen, sample_rate_hz=rate,
                        eyes_recorded=p.eyes, samples=samples, stats=stats)


def _compile(pat, name: str, need_group: bool) -> re.Pattern[str] | None:
    if pat is None:
        return None
    try:
        rx = re.compile(pat) if isinstance(pat, str) else pat
    except re.error as exc:
        raise ConfigError(f"{name} {pat!r} is not a valid regular expression: {exc}") from exc
    if need_group and "stimulus" not in rx.groupindex:
        raise ConfigError(f"{name} {rx.pattern!r} needs a named group (?P<stimulus>...)")
    return rx


def _size_of(sizes, name: str) -> tuple[int, int] | None:
    if sizes is None:
        return None
    if callable(sizes):
        return sizes(name)
    v = sizes.get(name)
    return (int(v[0]), int(v[1])) if v is not None else None


def _efix_frame(p: _Parser, trials: list[AscTrial], use_trialid: bool, eye: Eye, acc: Accounting, path: Path,
                dataset: str, observer: str, placement: Any) -> pd.DataFrame:
    n = len(p.fx_line)
    line = np.frombuffer(p.fx_line, dtype=np.int64) if n else np.zeros(0, np.int64)
    eyes = np.frombuffer(p.fx_eye, dtype=np.int8).astype(np.int64) if n else np.zeros(0, np.int64)
    num = np.frombuffer(p.fx_num, dtype=np.float64).reshape(-1, 5) if n else np.zeros((0, 5))
    seq = np.frombuffer(p.fx_seq, dtype=np.int64).reshape(-1, 2) if n else np.zeros((0, 2), np.int64)
    start, end, dur, x, y = (num[:, k].copy() for k in range(5))
    trial = seq[:, 0] if use_trialid else seq[:, 1]
    keep = np.ones(n, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        m = mask & keep
        if m.any():
            acc.dropped(path, reason, int(m.sum()), example=f"{path}:{int(line[np.flatnonzero(m)[0]])}")
            keep[m] = False

    drop(trial < 0, OUTSIDE_TRIAL)
    if eye != "mean":
        drop(eyes != (0 if eye == "left" else 1), OTHER_EYE)
    # blinks of the same eye covering more than half the fixation
    if len(p.blinks) and n:
        b = np.frombuffer(p.blinks, dtype=np.float64).reshape(-1, 3)
        ov = np.zeros(n)
        for code in (0, 1):
            bb = b[b[:, 0] == code]
            fi = np.flatnonzero(eyes == code)
            if bb.size == 0 or fi.size == 0:
                continue
            bb = bb[np.argsort(bb[:, 1])]
            k = np.searchsorted(bb[:, 1], end[fi], side="left") - 1  # last blink starting before the end
            for kk in (k, k - 1):
                ok = kk >= 0
                kc = np.maximum(kk, 0)
                o = np.minimum(end[fi], bb[kc, 2]) - np.maximum(start[fi], bb[kc, 1])
                ov[fi] = np.maximum(ov[fi], np.where(ok, np.clip(o, 0, None), 0.0))
        drop(ov > 0.5 * np.maximum(end - start, 1e-9), BLINK)
    tr_ok = np.clip(trial, 0, max(len(trials) - 1, 0))
    has_stim = np.array([t.stimulus is not None for t in trials] or [False], dtype=bool)
    drop(~has_stim[tr_ok], NO_STIMULUS)
    onset = np.array([t.onset_ms if t.onset_ms is not None else np.nan for t in trials] or [np.nan])
    on = onset[tr_ok]
    drop(np.isfinite(on) & (end < on), BEFORE_ONSET)

    out_eye = np.array(_EYE_NAME, dtype=object)[eyes] if n else np.zeros(0, dtype=object)
    if eye == "mean" and n:
        idx = np.flatnonzero(keep)
        binoc_trials = {int(tr) for tr in np.unique(trial[idx])
                        if {0, 1} <= set(eyes[idx][trial[idx] == tr].tolist())}
        for tr in sorted(binoc_trials):
            sel = idx[trial[idx] == tr]
            left, right = sel[eyes[sel] == 0], sel[eyes[sel] == 1]
            ov = (np.minimum(end[left][:, None], end[right][None, :])
                  - np.maximum(start[left][:, None], start[right][None, :]))
            pairs = _greedy_pairs(ov)
            paired_l = np.zeros(left.size, bool)
            paired_r = np.zeros(right.size, bool)
            for i, j in pairs:
                a, b2 = left[i], right[j]
                x[a], y[a] = (x[a] + x[b2]) / 2, (y[a] + y[b2]) / 2
                start[a], dur[a] = (start[a] + start[b2]) / 2, (dur[a] + dur[b2]) / 2
                out_eye[a] = "mean"
                paired_l[i] = paired_r[j] = True
            mask = np.zeros(n, bool)
            mask[right[paired_r]] = True
            drop(mask, PAIRED)
            mask = np.zeros(n, bool)
            mask[left[~paired_l]] = True
            mask[right[~paired_r]] = True
            drop(mask, UNPAIRED)

    idx = np.flatnonzero(keep)
    return _assemble(trials, trial[idx], x[idx], y[idx], start[idx], dur[idx], out_eye[idx], line[idx],
                     dataset, observer, path, placement)


def _assemble(trials: list[AscTrial], trial: np.ndarray, x: np.ndarray, y: np.ndarray, start: np.ndarray,
              dur: np.ndarray, eye: np.ndarray, line: np.ndarray, dataset: str, observer: str, path: Path,
              placement: Any) -> pd.DataFrame:
    """Canonical frame from per-fixation arrays (screen px, tracker ms), vectorised over all trials.

    Rows are ordered by trial, then EFIX start (then line); ``index`` counts 0, 1, … within a trial.
    """
    from saliency.fixations.table import coerce_frame, empty_frame

    if trial.size == 0:
        return empty_frame()
    trial = trial.astype(np.int64)
    order = np.lexsort((line, start, trial))
    trial, x, y, start, dur, eye, line = (a[order] for a in (trial, x, y, start, dur, eye, line))
    new = np.concatenate(([True], trial[1:] != trial[:-1]))
    pos = np.arange(trial.size)
    index = pos - np.maximum.accumulate(np.where(new, pos, 0))
    keys = ("offset_x_px", "offset_y_px", "scale_x", "scale_y")
    from_img = np.array([t.imgload is not None and t.placement is not None for t in trials])[trial]
    pl = np.array([[t.placement[k] for k in keys] if t.imgload is not None and t.placement is not None
                   else [0.0, 0.0, 1.0, 1.0] for t in trials], dtype=np.float64)[trial]
    xs, ys = (x - pl[:, 0]) / pl[:, 2], (y - pl[:, 1]) / pl[:, 3]
    if placement is not None and (~from_img).any():
        px, py = placement.screen_to_stimulus(x[~from_img], y[~from_img])
        xs[~from_img], ys[~from_img] = np.asarray(px, np.float64), np.asarray(py, np.float64)
    onset = np.array([t.onset_ms for t in trials], dtype=np.float64)[trial]
    frame = pd.DataFrame({
        "dataset": dataset, "stimulus": np.array([t.stimulus for t in trials], dtype=object)[trial],
        "observer": observer, "trial": np.array([t.index for t in trials], dtype=np.int32)[trial],
        "index": index.astype(np.int32), "x": xs, "y": ys, "t_start_ms": start - onset, "duration_ms": dur,
        "eye": eye, "source": [f"{path}:{v}" for v in line.astype(np.int64).tolist()],
    })
    return coerce_frame(frame)[list(COLUMNS)]


def _greedy_pairs(overlap: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) with overlap > 0, taken in decreasing overlap (ties: lower i, j first)."""
    if overlap.size == 0:
        return []
    ii, jj = np.nonzero(overlap > 0)
    order = np.lexsort((jj, ii, -overlap[ii, jj]))
    used_i: set[int] = set()
    used_j: set[int] = set()
    pairs = []
    for k in order:
        i, j = int(ii[k]), int(jj[k])
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j))
    return pairs


def _collect_samples(p: _Parser, use_trialid: bool, eye: Eye) -> tuple[dict[int, GazeSamples], dict[str, int]]:
    """Concatenate the parsed parts, mask blinks, split by trial (views into one sorted copy)."""
    parts = p.sample_parts
    t = np.concatenate([q[0] for q in parts])
    x = np.concatenate([q[1] for q in parts])
    y = np.concatenate([q[2] for q in parts])
    label = np.concatenate([np.full(q[0].shape, q[3], np.int8) for q in parts])
    lines = np.concatenate([q[4] for q in parts])
    trial = np.concatenate([q[5] if use_trialid else q[6] for q in parts])
    p.sample_parts = []  # free the parts: from here on one copy of each column
    del parts
    # blinks of the kept eye (either eye for the binocular mean) → missing
    in_blink = np.zeros(t.size, bool)
    if len(p.blinks):
        b = np.frombuffer(p.blinks, dtype=np.float64).reshape(-1, 3)
        for code in (0, 1):
            bb = b[b[:, 0] == code]
            if bb.size:
                order = np.argsort(bb[:, 1])
                s0, e0 = bb[order, 1], bb[order, 2]
                k = np.searchsorted(s0, t, side="right") - 1
                inside = (k >= 0) & (t <= e0[np.maximum(k, 0)]) & ((label == code) | (label == 2))
                in_blink |= inside
                x[inside] = np.nan
                y[inside] = np.nan
    stats = {"samples": int(t.size), "samples_missing": int((~np.isfinite(x) | ~np.isfinite(y)).sum()),
             "samples_in_blink": int(in_blink.sum())}
    del in_blink
    # one sorted copy (by trial, then time; stable: file order on ties), samples outside trials dropped
    order = np.flatnonzero(trial >= 0)
    order = order[np.lexsort((t[order], trial[order]))]
    t = t[order]  # column by column, so that each unsorted column is freed at once
    x = x[order]
    y = y[order]
    label = label[order]
    lines = lines[order]
    trial = trial[order]
    del order
    dup = np.concatenate(([False], (np.diff(t) <= 0) & (trial[1:] == trial[:-1])))
    if dup.any():  # repeated time stamps within a trial: keep the first
        t, x, y, label, lines, trial = (a[~dup] for a in (t, x, y, label, lines, trial))
    names = ("left", "right", "mean")
    out: dict[int, GazeSamples] = {}
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(trial)) + 1, [t.size]))
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi > lo:
            name = names[int(np.bincount(label[lo:hi], minlength=3).argmax())]
            k = int(trial[lo])
            out[k] = GazeSamples(t[lo:hi], x[lo:hi], y[lo:hi], np.broadcast_to(np.int64(k), (hi - lo,)),
                                 lines[lo:hi], name, p.path)
    return out, stats


def _detected_frame(samples: dict[int, GazeSamples], trials: list[AscTrial], events: str,
                    geometry: ViewingGeometry | None, detection: Mapping[str, float], acc: Accounting,
                    path: Path, dataset: str, observer: str, placement: Any) -> pd.DataFrame:
    from saliency.fixations.detect import DETECTORS

    assert geometry is not None
    detect = DETECTORS[events]
    parts: list[tuple[np.ndarray, ...]] = []
    for tr_i, smp in sorted(samples.items()):
        tr = trials[tr_i]
        try:
            det = detect(smp.time_ms, smp.x_px.astype(np.float64), smp.y_px.astype(np.float64), geometry,
                         **detection)
        except TypeError as exc:
            raise ConfigError(f"detection options {dict(detection)} do not fit detect_fixations_{events}: "
                              f"{exc}") from exc
        if len(det) == 0:
            continue
        src = smp.line[det.first_sample].astype(np.int64)
        if tr.stimulus is None:
            acc.dropped(path, NO_STIMULUS, len(det), example=f"{path}:{int(src[0])}")
            continue
        keep = ~(det.t_start_ms + det.duration_ms < tr.onset_ms)
        if (~keep).any():
            acc.dropped(path, BEFORE_ONSET, int((~keep).sum()))
        k = int(keep.sum())
        parts.append((np.full(k, tr_i, np.int64), det.x_px[keep], det.y_px[keep], det.t_start_ms[keep],
                      det.duration_ms[keep], np.full(k, smp.eye, dtype=object), src[keep]))
    cols = [np.concatenate([q[k] for q in parts]) if parts else np.zeros(0) for k in range(7)]
    return _assemble(trials, *cols, dataset, observer, path, placement)
