"""Closed-form NSS of bare observer maps (no mixture): Gram matrices of the blur responses, no maps built."""

from __future__ import annotations

import numpy as np

from saliency.maps.fusion import observer_splits
from saliency.maps.kernels import response_matrices
from saliency.maps.shard_blur import ShardBlur


def observer_nss(x_px: np.ndarray, y_px: np.ndarray, observer: np.ndarray, height: int, width: int,
                 sigma_px: float, *, mode: str = "gold_standard", ddof: int = 0,
                 binary: bool = False, blur: ShardBlur | None = None,
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """NSS of the bare observer maps for one image, in closed form (no mixture).

    mode ``gold_standard``: observer o's fixations scored on the blurred map of everyone else's;
    ``one_human``: everyone else's fixations scored on o's map. Maps are Σ_k w_k r_y(y_k) r_x(x_k) (response
    rows of ``blur``, default scipy's truncated Gaussian with mode constant), whose mean, std (``ddof``) and
    values at fixations follow from Gram matrices of the responses. ``weights``: per-fixation source weights
    (default 1). ``binary``: duplicates within a scored set merged (``mit``).
    Returns (per-fixation NSS values pooled over observers, NSS per observer (mean of its values)).
    """
    xi = np.asarray(x_px, dtype=np.float64).astype(np.int64)
    yi = np.asarray(y_px, dtype=np.float64).astype(np.int64)
    ry, rx = (response_matrices(height, width, sigma_px, "constant") if blur is None
              else blur.matrices(height, width))
    ky, kx = ry[yi], rx[xi]                     # (K, H), (K, W)
    sw = np.ones(xi.size) if weights is None else np.asarray(weights, dtype=np.float64)
    gram = (ky @ ky.T) * (kx @ kx.T)            # Σ_ij M² = wᵀ G w
    mass = ky.sum(1) * kx.sum(1)                # Σ_ij of each point's blob
    at = ky[:, yi] * kx[:, xi]                  # (K sources, K targets): blob k at fixation f
    npix = height * width
    values, per_obs = [], []
    for _, src, tgt in observer_splits(observer, leave_out=mode == "gold_standard"):
        w = sw * src
        targets = np.flatnonzero(tgt)
        if not w.any() or targets.size == 0:
            continue
        if binary:
            _, first = np.unique(yi[targets] * width + xi[targets], return_index=True)
            targets = targets[np.sort(first)]
        mean = w @ mass / npix
        var = (w @ gram @ w) / npix - mean * mean
        var = max(var, 0.0) * (npix / (npix - ddof))
        std = np.sqrt(var)
        v = w @ at[:, targets] - mean
        v = v / std if std > 0 else v
        values.append(v)
        per_obs.append(float(v.mean()))
    return (np.concatenate(values) if values else np.empty(0)), np.asarray(per_obs)
