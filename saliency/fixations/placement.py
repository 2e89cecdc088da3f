"""Where the stimulus was on the screen: screen pixels ↔ stimulus pixels.

Eye trackers report gaze in *screen* pixels; maps need *stimulus* pixels. When the image was drawn with
its top-left corner at screen position (``offset_x_px``, ``offset_y_px``) and magnified by ``scale_x``,
``scale_y`` (screen pixels per stimulus pixel), then, with the house convention that pixel j covers
[j, j + 1) on both grids (corners, not centres)::

    x_stim = (x_screen − offset_x_px) / scale_x        y_stim = (y_screen − offset_y_px) / scale_y

This is exact for corner coordinates: the stimulus's left edge (x_stim = 0) is the screen position
``offset_x_px`` and its right edge (x_stim = width) is ``offset_x_px + scale_x · width``.
Example: an 800×600 image centred on a 1024×768 screen at scale 1 has offset (112, 84).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from saliency.errors import ConfigError


@dataclass(frozen=True)
class StimulusPlacement:
    """The stimulus's top-left corner on the screen (px) and its scale (screen px per stimulus px)."""

    offset_x_px: float = 0.0
    offset_y_px: float = 0.0
    scale_x: float = 1.0
    scale_y: float = 1.0

    def __post_init__(self) -> None:
        for name in ("offset_x_px", "offset_y_px"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"placement {name} must be a finite number, got {getattr(self, name)!r}")
        for name in ("scale_x", "scale_y"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"placement {name} must be a positive finite number, got {v!r}")

    @classmethod
    def centered(cls, screen_width_px: int, screen_height_px: int, stimulus_width_px: int,
                 stimulus_height_px: int, scale: float = 1.0) -> StimulusPlacement:
        """The stimulus drawn at ``scale`` and centred on the screen (PsychoPy / Experiment Builder default)."""
        return cls((screen_width_px - scale * stimulus_width_px) / 2.0,
                   (screen_height_px - scale * stimulus_height_px) / 2.0, float(scale), float(scale))

    @classmethod
    def fit(cls, screen_width_px: int, screen_height_px: int, stimulus_width_px: int,
            stimulus_height_px: int) -> StimulusPlacement:
        """The stimulus scaled to fill the screen without cropping (letterboxed), centred."""
        scale = min(screen_width_px / stimulus_width_px, screen_height_px / stimulus_height_px)
        return cls.centered(screen_width_px, screen_height_px, stimulus_width_px, stimulus_height_px, scale)

    @classmethod
    def from_string(cls, text: str) -> StimulusPlacement:
        """Parse ``"OX,OY"`` or ``"OX,OY,SCALE"`` or ``"OX,OY,SX,SY"`` (command-line form)."""
        try:
            parts = [float(p) for p in text.split(",")]
        except ValueError:
            parts = []
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2], parts[2])
        if len(parts) == 4:
            return cls(*parts)
        raise ConfigError(f"placement {text!r}: expected 'OFFSET_X,OFFSET_Y[,SCALE | ,SCALE_X,SCALE_Y]' in px")

    @property
    def is_identity(self) -> bool:
        return (self.offset_x_px, self.offset_y_px, self.scale_x, self.scale_y) == (0.0, 0.0, 1.0, 1.0)

    def screen_to_stimulus(self, x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Screen pixel coordinates (0-based corners) → stimulus pixel coordinates (0-based corners)."""
        x = (np.asarray(x_px, dtype=np.float64) - self.offset_x_px) / self.scale_x
        y = (np.asarray(y_px, dtype=np.float64) - self.offset_y_px) / self.scale_y
        return x, y

    def stimulus_to_screen(self, x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`screen_to_stimulus`."""
        x = np.asarray(x_px, dtype=np.float64) * self.scale_x + self.offset_x_px
        y = np.asarray(y_px, dtype=np.float64) * self.scale_y + self.offset_y_px
        return x, y

    def to_dict(self) -> dict:
        return {"offset_x_px": self.offset_x_px, "offset_y_px": self.offset_y_px,
                "scale_x": self.scale_x, "scale_y": self.scale_y}
