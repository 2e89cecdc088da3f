"""Viewing geometry and pixel ↔ degree conversion: the only unit maths in the library.

Conventions: screen pixel coordinates are 0-based with pixel (row i, column j) covering
x ∈ [j, j+1), y ∈ [i, i+1); the screen centre is at (width_px / 2, height_px / 2).
Degrees of visual angle (dva) of a position are measured from the screen centre along each axis,
``atan(offset_cm / distance_cm)``, the convention of pymovements' ``pix2deg``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from saliency.errors import ConfigError


@dataclass(frozen=True)
class ViewingGeometry:
    """Screen size in pixels and centimetres and the eye-to-screen distance.

    ``pixels_per_degree`` is the mean over the central degree, ``width_px / (2·atan(width_cm/2/d))``
    would give the average over the whole screen; we use the central one, which is what σ = 1°
    conventions (OSIE, MIT) assume. It can be overridden with ``ppd_override`` when a dataset only
    publishes pixels per degree.
    """

    screen_width_px: int
    screen_height_px: int
    screen_width_cm: float | None = None
    screen_height_cm: float | None = None
    distance_cm: float | None = None
    ppd_override: float | None = None

    def __post_init__(self) -> None:
        if self.screen_width_px <= 0 or self.screen_height_px <= 0:
            raise ConfigError(
                f"screen size must be positive pixels, got {self.screen_width_px}×{self.screen_height_px}"
            )
        physical = (self.screen_width_cm, self.distance_cm)
        if self.ppd_override is None and any(v is None for v in physical):
            raise ConfigError(
                "viewing geometry needs screen_width_cm and distance_cm, or ppd_override (pixels per degree)"
            )
        for name in ("screen_width_cm", "screen_height_cm", "distance_cm", "ppd_override"):
            v = getattr(self, name)
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"{name} must be a positive finite number, got {v!r}")

    @property
    def pixels_per_cm(self) -> float:
        if self.screen_width_cm is None:
            raise ConfigError("pixels_per_cm needs screen_width_cm")
        return self.screen_width_px / self.screen_width_cm

    @property
    def pixels_per_degree(self) -> float:
        """Pixels spanning one degree of visual angle at the screen centre."""
        if self.ppd_override is not None:
            return float(self.ppd_override)
        assert self.distance_cm is not None
        cm_per_degree = 2.0 * self.distance_cm * math.tan(math.radians(0.5))
        return cm_per_degree * self.pixels_per_cm

    def px_to_dva(self, x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Screen positions (px, 0-based) → degrees from the screen centre along each axis."""
        x = np.asarray(x_px, dtype=np.float64) - self.screen_width_px / 2.0
        y = np.asarray(y_px, dtype=np.float64) - self.screen_height_px / 2.0
        if self.ppd_override is not None:
            return x / self.ppd_override, y / self.ppd_override
        assert self.distance_cm is not None
        ppcm = self.pixels_per_cm
        return (np.degrees(np.arctan2(x / ppcm, self.distance_cm)),
                np.degrees(np.arctan2(y / ppcm, self.distance_cm)))

    def dva_to_px(self, x_dva: np.ndarray, y_dva: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`px_to_dva`."""
        x = np.asarray(x_dva, dtype=np.float64)
        y = np.asarray(y_dva, dtype=np.float64)
        if self.ppd_override is not None:
            dx, dy = x * self.ppd_override, y * self.ppd_override
        else:
            assert self.distance_cm is not None
            ppcm = self.pixels_per_cm
            dx = np.tan(np.radians(x)) * self.distance_cm * ppcm
            dy = np.tan(np.radians(y)) * self.distance_cm * ppcm
        return dx + self.screen_width_px / 2.0, dy + self.screen_height_px / 2.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ViewingGeometry:
        return cls(**d)


def sigma_px(sigma: float, unit: str, pixels_per_degree: float | None) -> float:
    """σ in pixels from a value given in ``"px"`` or ``"dva"`` (degrees of visual angle)."""
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ConfigError(f"sigma must be a positive finite number, got {sigma!r}")
    if unit == "px":
        return float(sigma)
    if unit == "dva":
        if pixels_per_degree is None:
            raise ConfigError("sigma in dva needs the dataset's pixels per degree (viewing geometry)")
        return float(sigma) * float(pixels_per_degree)
    raise ConfigError(f"sigma unit must be 'px' or 'dva', got {unit!r}")
