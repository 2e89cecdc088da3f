"""EyeLink ASC messages and placement: TRIALID/TRIAL_RESULT trials, START blocks, DISPLAY_COORDS screen,
Data Viewer ``!V IMGLOAD`` placement, stimulus names and onsets (conventions: :mod:`saliency.readers.eyelink`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from saliency.errors import ConfigError
from saliency.readers.eyelink.lexer import OFFSET, Lexer, is_number, show


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


class MessageMixin(Lexer):
    """MSG and START handling of the parser."""

    def _start(self, line: bytes, no: int) -> None:
        f = line.split()
        if len(f) < 2 or not is_number(f[1]):
            self.bad(no, f"malformed START line {show(line)}: expected 'START <time> LEFT|RIGHT ...'")
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

    def _msg(self, line: bytes, no: int) -> None:
        try:
            text = line.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self.bad(no, f"bytes not valid {self.encoding} at column {exc.start + 1} "
                         f"({line[exc.start:exc.start + 4]!r}); pass encoding='latin-1' (or the file's encoding)")
            return
        parts = text.split(None, 2)
        if len(parts) < 2 or not is_number(parts[1].encode()):
            self.bad(no, f"malformed MSG line {text[:80]!r}: expected 'MSG <time> <text>'")
            return
        t = float(parts[1])
        body = parts[2].strip() if len(parts) > 2 else ""
        m = OFFSET.match(body)
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
            size = coords(body)
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
        img = imgload(body) if "IMGLOAD" in body else None
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


def coords(body: str) -> tuple[int, int] | None:
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


def imgload(body: str) -> ImgLoad | bool | None:
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
        while tail and len(nums) < 4 and is_number(tail[-1].encode()) and len(tail) > 1:
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


def compile_pattern(pat, name: str, need_group: bool) -> re.Pattern[str] | None:
    if pat is None:
        return None
    try:
        rx = re.compile(pat) if isinstance(pat, str) else pat
    except re.error as exc:
        raise ConfigError(f"{name} {pat!r} is not a valid regular expression: {exc}") from exc
    if need_group and "stimulus" not in rx.groupindex:
        raise ConfigError(f"{name} {rx.pattern!r} needs a named group (?P<stimulus>...)")
    return rx


def size_of(sizes, name: str) -> tuple[int, int] | None:
    if sizes is None:
        return None
    if callable(sizes):
        return sizes(name)
    v = sizes.get(name)
    return (int(v[0]), int(v[1])) if v is not None else None


def resolve_trials(trials: list[AscTrial], screen: tuple[int, int] | None, default_stimulus: str | None,
                   stimulus_sizes: Any, placement: Any) -> None:
    """Fill each trial's screen, start, stimulus name, onset and IMGLOAD placement (in place)."""
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
            size = size_of(stimulus_sizes, tr.stimulus)
            if tr.imgload is not None:
                ox, oy, sx, sy = tr.imgload.offsets_and_scales(size, tr.screen_px)
                tr.placement = {"offset_x_px": ox, "offset_y_px": oy, "scale_x": sx, "scale_y": sy}
            elif placement is not None and hasattr(placement, "to_dict"):
                tr.placement = dict(placement.to_dict())
