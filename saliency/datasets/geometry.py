"""Aspect-preserving resizing to the network's input size and its exact inverse at output.

A stimulus of ``height × width`` pixels is scaled by ``s = min(H / height, W / width)`` and centred on an
``H × W`` canvas (letterbox). The affine map of continuous pixel coordinates (pixel j covers x ∈ [j, j+1))
is ``x' = s·x + left``, ``y' = s·y + top``; its inverse is exact (up to float rounding).

Maps go back to the original resolution as *probability maps*: the valid (non-padded) region is cut out,
resampled by area (cv2.INTER_AREA when shrinking, bilinear of the per-pixel density when enlarging) and
renormalised to sum to 1, so probability mass per unit of stimulus area is preserved.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from saliency.errors import ConfigError


@dataclass(frozen=True)
class Letterbox:
    """The placement of a ``height × width`` stimulus on an ``out_height × out_width`` canvas.

    ``scale`` is canvas px per stimulus px; ``top``/``left`` the padding (canvas px) before the content;
    ``content_height``/``content_width`` the size of the resized content (canvas px, integers).
    """

    height: int
    width: int
    out_height: int
    out_width: int
    scale: float
    top: int
    left: int
    content_height: int
    content_width: int

    @classmethod
    def fit(cls, height: int, width: int, out_height: int, out_width: int) -> Letterbox:
        """Fit the stimulus into the canvas keeping its aspect ratio; pad the rest symmetrically."""
        if min(height, width, out_height, out_width) <= 0:
            raise ConfigError(f"letterbox sizes must be positive: {height}×{width} → {out_height}×{out_width}")
        scale = min(out_height / height, out_width / width)
        ch = min(out_height, max(1, round(height * scale)))
        cw = min(out_width, max(1, round(width * scale)))
        top = (out_height - ch) // 2
        left = (out_width - cw) // 2
        return cls(height, width, out_height, out_width, scale, top, left, ch, cw)

    # Exact scale factors per axis (content may be rounded to whole pixels).
    @property
    def sx(self) -> float:
        return self.content_width / self.width

    @property
    def sy(self) -> float:
        return self.content_height / self.height

    def points_to_canvas(self, x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stimulus coordinates (0-based, pixel corners) → canvas coordinates."""
        return np.asarray(x_px, np.float64) * self.sx + self.left, np.asarray(y_px, np.float64) * self.sy + self.top

    def points_to_stimulus(self, x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canvas coordinates → stimulus coordinates (the exact inverse of :meth:`points_to_canvas`)."""
        return ((np.asarray(x_px, np.float64) - self.left) / self.sx,
                (np.asarray(y_px, np.float64) - self.top) / self.sy)

    def image_to_canvas(self, image: np.ndarray, fill: int | float = 0) -> np.ndarray:
        """(h, w[, c]) image → (H, W[, c]) canvas; area interpolation when shrinking, bilinear otherwise."""
        interp = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        content = cv2.resize(image, (self.content_width, self.content_height), interpolation=interp)
        shape = (self.out_height, self.out_width, *image.shape[2:])
        out = np.full(shape, fill, dtype=image.dtype)
        out[self.top:self.top + self.content_height, self.left:self.left + self.content_width] = content
        return out

    def density_to_canvas(self, density: np.ndarray) -> np.ndarray:
        """(h, w) probability map → (H, W) probability map (padding gets 0 mass; sums to 1)."""
        out = self.image_to_canvas(np.asarray(density, np.float32), fill=0.0)
        return _normalise(out)

    def density_to_stimulus(self, density: np.ndarray) -> np.ndarray:
        """(H, W) canvas probability map → (h, w) stimulus probability map (area-preserving, sums to 1).

        The padded margin is cut away (mass the model put there is dropped), the content resampled to the
        stimulus size and renormalised.
        """
        content = np.asarray(density, np.float32)[self.top:self.top + self.content_height,
                                                  self.left:self.left + self.content_width]
        if (self.content_height, self.content_width) == (self.height, self.width):
            return _normalise(content.copy())
        shrinking = self.content_height > self.height
        interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        out = cv2.resize(content, (self.width, self.height), interpolation=interp)
        return _normalise(np.maximum(out, 0))

    def log_density_to_stimulus(self, log_density: np.ndarray) -> np.ndarray:
        """(H, W) canvas log-density → (h, w) stimulus log-density (via :meth:`density_to_stimulus`)."""
        ld = np.asarray(log_density, np.float64)
        p = np.exp(ld - ld.max()).astype(np.float32)
        d = self.density_to_stimulus(p)
        with np.errstate(divide="ignore"):
            return np.log(np.maximum(d, np.finfo(np.float32).tiny)).astype(np.float32)

    def mask_to_canvas(self, mask: np.ndarray) -> np.ndarray:
        """(h, w) float/bool mask → (H, W) float32 (area-averaged; padding 0)."""
        return self.image_to_canvas(np.asarray(mask, np.float32), fill=0.0)

    def map_to_stimulus(self, m: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """(H, W) canvas map of intensities (e.g. SOD probabilities) → (h, w), no renormalisation."""
        content = np.asarray(m, np.float32)[self.top:self.top + self.content_height,
                                            self.left:self.left + self.content_width]
        return cv2.resize(content, (self.width, self.height), interpolation=interpolation)


def _normalise(p: np.ndarray) -> np.ndarray:
    total = float(p.sum(dtype=np.float64))
    if total <= 0 or not np.isfinite(total):
        return np.full_like(p, 1.0 / p.size)
    return (p / total).astype(np.float32)
