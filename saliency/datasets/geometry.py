"""Aspect-preserving resizing to the network's input size and its exact inverse at output.

A stimulus of ``height × width`` pixels is scaled by ``s = min(H / height, W / width)`` and centred on an
``H × W`` canvas (letterbox). The affine map of continuous pixel coordinates (pixel j covers x ∈ [j, j+1))
is ``x' = s·x + left``, ``y' = s·y + top``; its inverse is exact (up to float rounding).

Densities are resampled as *probability maps*, exactly area-preserving in both directions: the density
is taken as piecewise constant over pixels and integrated over each output pixel (separable overlap
matrices ``W[i, j]`` = fraction of source pixel j lying in output pixel i; every source pixel's mass is
distributed, so total and regional masses are kept to rounding). Going back to the stimulus, the padded
margin is cut away first (mass the model put there is dropped) and the result renormalised to sum 1.
Shrinking this way equals OpenCV's INTER_AREA; enlarging it gives blocks of the source pixels.
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
        content = resample_mass(np.asarray(density, np.float64), self.content_height, self.content_width)
        out = np.zeros((self.out_height, self.out_width), np.float64)
        out[self.top:self.top + self.content_height, self.left:self.left + self.content_width] = content
        return _normalise(out)

    def density_to_stimulus(self, density: np.ndarray) -> np.ndarray:
        """(H, W) canvas probability map → (h, w) stimulus probability map (area-preserving, sums to 1).

        The padded margin is cut away (mass the model put there is dropped), the content resampled to the
        stimulus size and renormalised.
        """
        content = np.asarray(density, np.float32)[self.top:self.top + self.content_height,
                                                  self.left:self.left + self.content_width]
        out = resample_mass(np.maximum(content.astype(np.float64), 0), self.height, self.width)
        return _normalise(out)

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


def overlap_matrix(n_src: int, n_dst: int) -> np.ndarray:
    """(n_dst, n_src) W: W[i, j] = fraction of source pixel j inside destination pixel i (columns sum to 1).

    Both axes span [0, 1): source pixel j covers [j/n_src, (j+1)/n_src), destination pixel i likewise.
    """
    src = np.arange(n_src + 1) / n_src
    dst = np.arange(n_dst + 1) / n_dst
    lo = np.maximum(dst[:-1, None], src[None, :-1])
    hi = np.minimum(dst[1:, None], src[None, 1:])
    return np.clip(hi - lo, 0, None) * n_src


def resample_mass(mass: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) per-pixel masses → (height, width) masses with the same total and regional sums."""
    h, w = mass.shape
    if (h, w) == (height, width):
        return mass.copy()
    return overlap_matrix(h, height) @ mass @ overlap_matrix(w, width).T


def _normalise(p: np.ndarray) -> np.ndarray:
    total = float(p.sum(dtype=np.float64))
    if total <= 0 or not np.isfinite(total):
        return np.full_like(p, 1.0 / p.size)
    return (p / total).astype(np.float32)
