"""Closed-form NSS of bare observer maps (no mixture): Gram matrices of the blur responses, no maps built."""

from __future__ import annotations

import numpy as np

from saliency.baselines.blur import ShardBlur, _kernel_matrix, kernel_1d


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
    if blur is None:
        k = kernel_1d(sigma_px)
        ky = _kernel_matrix(yi, height, k)      # (K, H)
        kx = _kernel_matrix(xi, width, k)       # (K, W)
    else:
        ry, rx = blur.matrices(height, width)
        ky, kx = ry[yi], rx[xi]
    sw = np.ones(xi.size) if weights is None else np.asarray(weights, dtype=np.float64)
    gram = (ky @ ky.T) * (kx @ kx.T)            # Σ_ij M² = wᵀ G w
    mass = ky.sum(1) * kx.sum(1)                # Σ_ij of each point's blob
    at = ky[:, yi] * kx[:, xi]                  # (K sources, K targets): blob k at fixation f
    npix = height * width
    obs = np.asarray(observer)
    values, per_obs = [], []
    for o in np.unique(obs):
        mine = obs == o
        w = sw * (~mine if mode == "gold_standard" else mine)
        targets = np.flatnonzero(mine if mode == "gold_standard" else ~mine)
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
