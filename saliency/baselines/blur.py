"""Blurred fixation maps as separable matrix products (fast for few fixations, exact like scipy).

``blur_points`` equals ``scipy.ndimage.gaussian_filter(count_map, sigma, mode="constant", truncate=4)`` of the
fixation count map (fixation (x, y) counted at pixel (int(y), int(x))) up to rounding: the map is
Σ_k w_k · g(i − y_k) g(j − x_k) with scipy's discrete, normalised, truncated 1-D kernel g, computed as
``Kyᵀ · diag(w) · Kx`` — O(K·H·W) with a tiny K instead of a full 2-D convolution.
"""

from __future__ import annotations

import numpy as np


def kernel_1d(sigma_px: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage's Gaussian kernel: radius int(truncate·σ + 0.5), normalised to sum 1."""
    r = int(truncate * float(sigma_px) + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma_px) ** 2)
    return k / k.sum()


def _kernel_matrix(pos: np.ndarray, n: int, kernel: np.ndarray) -> np.ndarray:
    r = kernel.size // 2
    d = np.arange(n)[None, :] - pos[:, None]
    m = np.zeros((pos.size, n))
    inside = np.abs(d) <= r
    m[inside] = kernel[(d + r)[inside]]
    return m


def blur_points(xi: np.ndarray, yi: np.ndarray, height: int, width: int, sigma_px: float,
                weights: np.ndarray | None = None, truncate: float = 4.0) -> np.ndarray:
    """(H, W) float64 blurred count map of integer fixation pixels (xi, yi) (not normalised)."""
    k = kernel_1d(sigma_px, truncate)
    ky = _kernel_matrix(np.asarray(yi, dtype=np.int64), height, k)
    kx = _kernel_matrix(np.asarray(xi, dtype=np.int64), width, k)
    if weights is not None:
        ky = ky * np.asarray(weights, dtype=np.float64)[:, None]
    return ky.T @ kx
