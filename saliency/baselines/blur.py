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


class ShardBlur:
    """The ground truth's own blur, read from a shard set's metadata, for baseline maps built like it.

    σ (``meta["sigma_px"]``), boundary ``mode``, ``truncate``, the ``mit_fft`` cut-off (``options["fc_cycles"]``,
    resolved per image size exactly as the shard writer does) and the fixation weighting options
    (``selection``, ``drop_first``, ``duration_weighted``, ``observer_equal``) of ``meta["options"]``. A map of weighted
    fixations is ``Ry[rows]ᵀ · diag(w) · Rx[cols]`` with the float64 response matrices of
    :func:`saliency.maps.kernels.response_matrices` (cached per image size). Shards without ``options``
    (older or in-memory sets) get the defaults: mode ``constant``, truncate 4, no weighting.
    """

    def __init__(self, meta: dict, sigma_px: float | None = None) -> None:
        from saliency.maps.options import MapOptions

        opts = dict(meta.get("options") or {})
        self.options = MapOptions.from_dict(opts) if opts else MapOptions()
        self.sigma_px = float(sigma_px if sigma_px is not None else meta["sigma_px"])
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def fc(self, height: int, width: int) -> float | None:
        """The mit_fft cut-off used for this size (None for the other modes)."""
        from saliency.maps.options import resolved_fc

        return resolved_fc(self.options, self.sigma_px, height, width)

    def matrices(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(Ry (H, H), Rx (W, W)) float64: row r of Ry is the blurred response of a delta in row r."""
        from saliency.maps.kernels import response_matrices

        key = (int(height), int(width))
        if key not in self._cache:
            o = self.options
            self._cache[key] = response_matrices(key[0], key[1], self.sigma_px, o.mode, o.truncate,
                                                 self.fc(*key))
        return self._cache[key]

    def source_weights(self, rows) -> np.ndarray:
        """(K,) weights of a stimulus's fixation rows in a map: 0 for rows the options drop, the duration /
        observer weights of :func:`saliency.maps.options.fixation_weights` otherwise (1 without options)."""
        from saliency.maps.options import fixation_weights

        w = np.zeros(len(rows))
        keep = np.ones(len(rows), dtype=bool)
        if "index" in rows:
            keep = self.options.effective_selection.mask(rows)
        sel = rows[keep]
        fw = fixation_weights(sel, self.options) if len(sel) else None
        w[keep] = 1.0 if fw is None else fw
        return w

    def blur(self, xi: np.ndarray, yi: np.ndarray, height: int, width: int,
             weights: np.ndarray | None = None) -> np.ndarray:
        """(H, W) float64 blurred, weighted count map of integer pixels (xi, yi) (not normalised)."""
        ry, rx = self.matrices(height, width)
        a = ry[np.asarray(yi, dtype=np.int64)]
        if weights is not None:
            a = a * np.asarray(weights, dtype=np.float64)[:, None]
        return a.T @ rx[np.asarray(xi, dtype=np.int64)]

    def blur_counts(self, counts: np.ndarray) -> np.ndarray:
        """(H, W) float64 blur of a dense count map: ``Ryᵀ · C · Rx``."""
        ry, rx = self.matrices(*counts.shape)
        return ry.T @ np.asarray(counts, dtype=np.float64) @ rx
