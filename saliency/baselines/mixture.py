"""The observer-map mixture ``(1 − w_c − w_u)·L + w_c·C + w_u/(H·W)``: its components at the scored
fixations and the maximum-likelihood weights (EM). See :mod:`saliency.baselines` for the model."""

from __future__ import annotations

import numpy as np

from saliency.baselines.jit import em_responsibility_sums
from saliency.baselines.observers import observer_sets
from saliency.errors import SchemaError
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.fixation import fixation_indices


def fit_mixture_weights(components: np.ndarray, *, max_iter: int = 2000, tol: float = 1e-12) -> np.ndarray:
    """Maximum-likelihood weights of a mixture of fixed densities (EM).

    components: (N, K) density of each of K components at each of N fixations (each column a probability per
    pixel). Returns (K,) weights ≥ 0 summing to 1 maximising Σ_i log Σ_k w_k c_ik.

    Each step's ``(c · (w / mix)).mean(axis=0)`` is summed in a compiled loop in numpy's order (row after
    row, as numpy reduces a C-contiguous array over axis 0), without the (N, K) temporaries: same bits.
    """
    c = np.ascontiguousarray(components, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0:
        raise SchemaError("mixture fit needs at least one fixation")
    k = c.shape[1]
    w = np.full(k, 1.0 / k)
    prev = -np.inf
    for _ in range(max_iter):
        mix = c @ w
        ll = float(np.log(mix).mean())
        w = em_responsibility_sums(c, w, mix) / c.shape[0]       # = (c * (w / mix[:, None])).mean(axis=0)
        w /= w.sum()
        if ll - prev < tol:
            break
        prev = ll
    return w


def components_at_fixations(gt, mode: str, blur: ShardBlur, centre_map: np.ndarray) -> np.ndarray:
    """(N, 3) densities at the scored fixations of (observer map, centre bias, uniform), all observers."""
    return components_by_mode(gt, (mode,), blur, centre_map)[mode]


def components_by_mode(gt, modes: tuple[str, ...], blur: ShardBlur,
                       centre_map: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`components_at_fixations` of each mode in ``modes``; the blur responses at the fixations are
    gathered once for all of them."""
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
    centre_at = centre_map.ravel()[idx]
    res = {}
    for mode in modes:
        out = []
        for _, src, tgt in observer_sets(obs, mode):
            ws = sw * src
            total = ws @ mass
            if total <= 0:
                continue
            t = np.flatnonzero(tgt)
            out.append(np.stack([ws @ at[:, t] / total, centre_at[t], np.full(t.size, 1.0 / (h * w))], axis=1))
        res[mode] = np.concatenate(out) if out else np.empty((0, 3))
    return res
