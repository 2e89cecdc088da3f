"""EyeLink ASC lexing: the chunked single-pass line scan, line classification, EFIX parsing and errors.

The file is read in binary chunks; one C-level regex scan per chunk finds the lines that do not start
with a digit (events, messages). Sample lines are handed in bulk to :mod:`.samples`, messages to
:mod:`.messages` (both are mixins of the parser assembled in :mod:`saliency.readers.eyelink`).
"""

from __future__ import annotations

import io
import math
import re
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from saliency.errors import ReaderError
from saliency.fixations.accounting import (
    MALFORMED,
    MAX_DURATION_MS,
    NEGATIVE_DURATION,
    NON_FINITE,
    NON_FINITE_DURATION,
    Accounting,
)
from saliency.readers.base import ReadOptions
from saliency.readers.text import SNIFF_BYTES, detect_encoding, read_text

if TYPE_CHECKING:
    import numpy as np

    from saliency.readers.eyelink.messages import AscTrial

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
NONSAMPLE = re.compile(rb"\n(?![0-9])[^\n]*")
OFFSET = re.compile(r"^(-?\d+)\s+(.*)$", re.S)
KNOWN = {b"MSG", b"EFIX", b"SFIX", b"SSACC", b"ESACC", b"SBLINK", b"EBLINK", b"START", b"END",
          b"SAMPLES", b"EVENTS", b"PRESCALER", b"VPRESCALER", b"PUPIL", b"INPUT", b"BUTTON", b"PARSEDBY"}
MSG_KEYS = re.compile(rb"TRIALID|TRIAL_RESULT|DISPLAY_COORDS|GAZE_COORDS|IMGLOAD")
EYE_CODE = {b"L": 0, b"R": 1}
EYE_NAME = ("left", "right")
NULLS = [" " * k + "." for k in range(12)]


def is_number(tok: bytes) -> bool:
    try:
        return math.isfinite(float(tok))
    except ValueError:
        return False


def show(line: bytes | str) -> str:
    s = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    s = s.replace("\t", " ")
    return repr(s if len(s) <= 80 else s[:77] + "...")


class Lexer:
    """Single pass over the file; keeps compact arrays only (the state shared by the mixins)."""

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
        self.n_bad_lines = 0
        self.n_known = 0  # lines with an ASC keyword (MSG, EFIX, START, ...)
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
        self.n_bad_lines += 1
        if efix:
            self.acc.dropped(self.path, reason, example=f"line {line}: {what}")
        else:
            self.acc.note(self.path, LINE_SKIPPED)

    def _open(self) -> BinaryIO:
        """The file as bytes in an ASCII-compatible encoding: UTF-16/32 files (by byte-order mark or
        sniffing, see :mod:`saliency.readers.text`) are decoded whole and re-encoded as UTF-8; a UTF-8
        mark is skipped; NUL bytes (binary data) are an error naming the line."""
        with open(self.path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        codec, skip = detect_encoding(head, self.encoding)
        if codec.startswith(("utf-16", "utf-32")):
            text, _ = read_text(self.path, codec)
            self.encoding = "utf-8"
            return io.BytesIO(text.encode("utf-8"))
        nul = head.find(b"\x00")
        if nul >= 0:
            raise ReaderError("NUL bytes: a binary file or a wrong encoding (pass --encoding); expected an "
                              "EyeLink ASC text export", path=self.path, line=head.count(b"\n", 0, nul) + 1)
        fh = open(self.path, "rb")
        fh.seek(skip)
        if skip:
            self.encoding = "utf-8"
        return fh

    # -- driver --------------------------------------------------------------------------------
    def run(self, chunk_bytes: int) -> None:
        lineno = 1  # number of the line starting at chunk offset 0
        rest = b""
        with self._open() as fh:
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
        if self.n_bad_lines >= self.n_nonempty or self.n_known == 0:
            raise ReaderError(f"no EyeLink ASC event or message line (MSG, EFIX, START, ...) in the file "
                              f"({self.n_bad_lines} malformed lines): "
                              "expected an ASC export (or pass the file's --encoding)", path=self.path, line=1)
        if self.in_block:
            self.acc.note(self.path, "recording block without END (truncated file?)")

    def _chunk(self, buf: bytes, lineno: int) -> int:
        pos = 0
        want = self.want_samples and self.in_block
        count = buf.count
        size = len(buf)
        # prefix a newline so that the chunk's first line is found like the others; positions of
        # matches in the prefixed buffer are the line starts in ``buf``
        for m in NONSAMPLE.finditer(b"\n" + buf):
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
        if kw in KNOWN:
            self.n_known += 1
        if kw == b"MSG":
            # fast path: a message the reader cannot use (no user pattern, no keyword) is only checked
            # for its encoding (ASCII is valid in every supported encoding)
            if self.patterns or not line.isascii() or MSG_KEYS.search(line):
                self._msg(line, no)
        elif kw == b"EFIX":
            self._efix(line, no)
        elif kw == b"EBLINK":
            f = line.split()
            try:
                self.blinks.extend((EYE_CODE[f[1]], float(f[2]), float(f[3])))
            except (IndexError, KeyError, ValueError):
                self.bad(no, f"malformed EBLINK line {show(line)}: expected 'EBLINK L|R start end duration'")
        elif kw == b"START":
            self._start(line, no)
        elif kw == b"END":
            f = line.split()
            if len(f) < 2 or not is_number(f[1]):
                self.bad(no, f"malformed END line {show(line)}: expected 'END <time> ...'")
            self.in_block = False
        elif kw == b"SAMPLES":
            f = line.split()
            self.samples_fmt = tuple(f)
            if b"RATE" in f:
                i = f.index(b"RATE")
                if i + 1 < len(f) and is_number(f[i + 1]):
                    self.sample_rate = float(f[i + 1])
        elif kw in KNOWN:
            return
        else:
            self.bad(no, f"unknown line {show(line)}: expected a sample (time stamp first) or an ASC "
                         "keyword (MSG, EFIX, START, END, SBLINK, EBLINK, ...)")

    def _efix(self, line: bytes, no: int) -> None:
        f = line.split()
        if len(f) < 8 or f[1] not in EYE_CODE:  # 8: a line cut before the pupil field may have lost digits of y
            self.bad(no, f"malformed EFIX line {show(line)}: expected 'EFIX L|R start end duration x y pupil'",
                     efix=True)
            return
        try:
            start, end, dur = float(f[2]), float(f[3]), float(f[4])
            x = math.nan if f[5] == b"." else float(f[5])
            y = math.nan if f[6] == b"." else float(f[6])
        except ValueError:
            self.bad(no, f"malformed EFIX line {show(line)}: start, end, duration, x, y must be numbers",
                     efix=True)
            return
        if not (math.isfinite(start) and math.isfinite(end)):
            self.bad(no, f"EFIX times must be finite numbers, got {show(line)}", efix=True)
            return
        if not abs(dur) <= MAX_DURATION_MS:
            self.bad(no, f"EFIX duration must be a finite number of ms, got {show(line)}", efix=True,
                     reason=NON_FINITE_DURATION)
            return
        if dur < 0 or end < start:
            self.bad(no, f"EFIX has a negative duration ({show(line)}): expected end ≥ start, duration ≥ 0",
                     efix=True, reason=NEGATIVE_DURATION)
            return
        if not (math.isfinite(x) and math.isfinite(y)):
            self.bad(no, f"EFIX position is missing or not finite ({show(line)}): expected x, y in pixels",
                     efix=True, reason=NON_FINITE)
            return
        self.fx_line.append(no)
        self.fx_eye.append(EYE_CODE[f[1]])
        self.fx_num.extend((start, end, dur, x, y))
        self.fx_seq.extend((self.trial_seq, self.block_seq if self.in_block else -1))

    # provided by the mixins (messages, samples)
    def _msg(self, line: bytes, no: int) -> None:
        raise NotImplementedError

    def _start(self, line: bytes, no: int) -> None:
        raise NotImplementedError

    def _add_samples(self, data: bytes, first_line: int, n_lines: int) -> None:
        raise NotImplementedError

    def _flush_samples(self) -> None:
        raise NotImplementedError
