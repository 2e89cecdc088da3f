"""The observer-map mixture ``(1 − w_c − w_u)·L + w_c·C + w_u/(H·W)``: its components at the scored
fixations and the maximum-likelihood weights (EM). See :mod:`saliency.baselines` for the model."""

from __future__ import annotations

import numpy as np

from saliency.baselines.observers import observer_sets
from saliency.errors import SchemaError
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.fixation import fixation_indices


def fit_mixture_weights(components: np.ndarray, *, max_iter: int = 2000, tol: float = 1e-12) -> np.ndarray:
    """Maximum-likelihood weights of a mixture of fixed densities (EM).

    components: (N, K) density of each of K components at each of N fixations (each column a probability per
    pixel). Returns (K,) weights ≥ 0 summing to 1 maximising Σ_i log Σ_k w_k c_ik.
    """
    c = np.asarray(components, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0:
        raise SchemaError("mixture fit needs at least one fixation")
    k = c.shape[1]
    w = np.full(k, 1.0 / k)
    prev = -np.inf
    for _ in range(max_iter):
        mix = c @ w
        ll = float(np.log(mix).mean())
        r = c * (w / mix[:, None])
        w = r.mean(axis=0)
        w /= w.sum()
        if ll - prev < tol:
            break
        prev = ll
    return w


def components_at_fixations(gt, mode: str, blur: ShardBlur, centre_map: np.ndarray) -> np.ndarray:
    """(N, 3) densities at the scored fixations of (observer map, centre bias, uniform), all observers."""
    fx = gt.fixations
    x, y = fx["x"].to_numpy(np.float64), fx["y"].to_numpy(np.float64)
    h, w = gt.height, gt.width
    idx = fixation_indices(x, y, (h, w))
    xi, yi = idx % w, idx // w
    ry, rx = blur.matrices(h, w)
    ky, kx = ry[yi], rx[xi]
    mass = ky.sum(1) * kx.sum(1)
    at = ky[:, yi] * kx[:, xi]
    sw = blur.source_weights(fx)
    obs = fx["observer"].astype(str).to_numpy()
    out = []
    for _, src, tgt in observer_sets(obs, mode):
        ws = sw * src
        total = ws @ mass
        if total <= 0:
            continue
        t = np.flatnonzero(tgt)
        out.append(np.stack([ws @ at[:, t] / total, centre_map.ravel()[idx[t]], np.full(t.size, 1.0 / (h * w))],
                            axis=1))
    return np.concatenate(out) if out else np.empty((0, 3))
