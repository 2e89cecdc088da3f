"""Baselines every saliency model is compared with (rows of the results table).

- ``chance``: a constant map (AUC 0.5, NSS 0, CC 0).
- ``centre_gaussian``: a 2-D Gaussian fitted to the training fixations (normalised coordinates).
- ``centre_loo``: the leave-one-image-out average of all other images' fixation maps (rescaled to the image,
  blurred like the ground truth).
- ``gold_standard``: leave-one-observer-out: each observer's fixations are scored with the map built from
  the other observers' fixations on the same image, values pooled per image.
- ``one_human``: each observer's own map predicts the other observers' fixations; pooled per image.

Map metrics (CC, KL, SIM, EMD) of the observer rows: ``one_human`` compares the observer's map with the map
of the other observers (the MIT benchmark's "one human"); ``gold_standard`` compares the leave-one-observer-out
map with the full ground truth, which contains the left-out observer: it approximates the benchmark's
"infinite humans" ceiling (CC 1, KL 0, SIM 1 by definition) and is optimistic, not a model-free estimate.

Every map is blurred exactly like the shards' ground truth (:class:`saliency.maps.shard_blur.ShardBlur`:
σ, boundary mode, truncation, the ``mit_fft`` cut-off ``fc_cycles`` and the fixation weighting options of
the shard metadata).

Observer maps as probabilistic models. A leave-one-observer-out map is zero wherever the remaining
observers did not look (a truncated Gaussian), so the left-out observer's fixations there have probability 0
and information gain −∞. As in the MIT/Tübingen benchmark (Kümmerer, Wallis & Bethge 2015/2018: the gold
standard is a mixture of the leave-one-subject-out KDE with a centre-bias and a uniform component), the
observer map is used as the mixture

    p = (1 − w_c − w_u) · L + w_c · C + w_u / (H·W)

with L the observer map as a density, C the centre-bias Gaussian density (the IG baseline) and weights
(w_c, w_u) fitted by maximum likelihood (EM) to all scored fixations of the data set, for each of
``gold_standard`` and ``one_human`` separately (the benchmark cross-validates them; with two weights and
thousands of fixations the difference is negligible). Every metric scores this mixture; the weights are
reported in the summary (``mixture_weights``). ``regularize=False`` scores the bare maps (IG may be −∞).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import SchemaError
from saliency.maps.fusion import observer_splits
from saliency.maps.kernels import response_matrices
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.centre_bias import centre_fit_stimuli, fit_centre_gaussian
from saliency.metrics.conventions import get_convention
from saliency.metrics.evaluation import (
    EvaluationResult,
    FixationPool,
    image_results,
    record_results,
    sizes_from_manifest,
    summarise,
)
from saliency.metrics.fixation import fixation_indices
from saliency.metrics.fused import Workspace
from saliency.metrics.streaming import DEFAULT_METRICS, build_metrics

__all__ = ["BASELINES", "compute_baselines",
           "fit_mixture_weights", "observer_nss"]

BASELINES = ("chance", "centre_gaussian", "centre_loo", "gold_standard", "one_human")
OBSERVER_BASELINES = ("gold_standard", "one_human")


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


class _Pooled:
    """Per-image pooling for observer baselines: many maps per image, one score per image."""

    def __init__(self, names: list[str], pysaliency: bool) -> None:
        self.names = names
        self.pys = pysaliency
        self.values: dict[str, list[float]] = {n: [] for n in names}
        self.fix_sum = dict.fromkeys(names, 0.0)
        self.fix_n = dict.fromkeys(names, 0)

    def add_image(self, per_fix: dict[str, list[np.ndarray]], per_map: dict[str, list[float]]) -> dict[str, float]:
        row = {}
        for n in self.names:
            if per_fix.get(n):
                v = np.concatenate(per_fix[n])
                row[n] = float(v.mean()) if v.size else float("nan")
                self.fix_sum[n] += float(v.sum())
                self.fix_n[n] += int(v.size)
            else:
                row[n] = float(np.mean(per_map[n])) if per_map.get(n) else float("nan")
            self.values[n].append(row[n])
        return row


def _observer_sets(obs: np.ndarray, mode: str):
    """:func:`saliency.maps.fusion.observer_splits` of ``mode``, observers with no source or no target left out."""
    for o, src, tgt in observer_splits(obs, leave_out=mode == "gold_standard"):
        if src.any() and tgt.any():
            yield o, src, tgt


def _components_at_fixations(gt, mode: str, blur: ShardBlur, centre_map: np.ndarray) -> np.ndarray:
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
    for _, src, tgt in _observer_sets(obs, mode):
        ws = sw * src
        total = ws @ mass
        if total <= 0:
            continue
        t = np.flatnonzero(tgt)
        out.append(np.stack([ws @ at[:, t] / total, centre_map.ravel()[idx[t]], np.full(t.size, 1.0 / (h * w))],
                            axis=1))
    return np.concatenate(out) if out else np.empty((0, 3))


def _observer_baseline(gt, mode: str, ms_factory, blur: ShardBlur, density: np.ndarray, neg_idx, centre_map,
                       weights: np.ndarray | None, ws: Workspace) -> tuple[dict[str, list[np.ndarray]], dict[str, list[float]]]:
    fx = gt.fixations
    x = fx["x"].to_numpy(np.float64)
    y = fx["y"].to_numpy(np.float64)
    h, w = gt.height, gt.width
    idx = fixation_indices(x, y, (h, w))  # bounds check with a clear error
    xi, yi = idx % w, idx // w
    obs = fx["observer"].astype(str).to_numpy()
    sw = blur.source_weights(fx)
    ms = ms_factory()
    per_fix: dict[str, list[np.ndarray]] = {m.name: [] for m in ms}
    per_map: dict[str, list[float]] = {m.name: [] for m in ms}
    for _, src, tgt in _observer_sets(obs, mode):
        m = blur.blur(xi[src], yi[src], h, w, sw[src])
        total = m.sum()
        if total <= 0:
            continue
        if weights is not None:
            m = weights[0] * (m / total) + weights[1] * centre_map + weights[2] / (h * w)
        target = density
        if mode == "one_human":                # map metrics: one observer's map vs the others' map
            target = blur.blur(xi[tgt], yi[tgt], h, w, sw[tgt])
            if target.sum() <= 0:
                continue
            target /= target.sum()
        res = image_results(ms, m, x_px=x[tgt], y_px=y[tgt], density=target, neg_idx=neg_idx,
                            baseline=centre_map, shape=(h, w), workspace=ws)
        for name, r in res.items():
            if r is None:
                continue
            if r[1] is not None:
                per_fix[name].append(r[1])
            per_map[name].append(r[0])
    return per_fix, per_map


def compute_baselines(shards: Any, *, convention: str = "pysaliency", metrics: list[str] | None = None,
                      stimuli: list[str] | None = None, train_stimuli: list[str] | None = None,
                      which: tuple[str, ...] = BASELINES, sigma_px: float | None = None, seed: int | None = None,
                      regularize: bool = True,
                      on_image: Callable[[str], None] | None = None) -> dict[str, EvaluationResult]:
    """Score the baselines on ``stimuli`` (default all) of a shard set; returns name → EvaluationResult.

    train_stimuli: fixations the centre-bias Gaussian is fitted to (default: the stimuli not evaluated, or all
    when every stimulus is evaluated). IG is measured against that Gaussian (so its own IG is 0).
    sigma_px: blur of observer / leave-one-image-out maps (default ``shards.meta["sigma_px"]``); boundary
    mode, truncation, ``fc_cycles`` and weighting come from ``shards.meta["options"]``.
    regularize: score the observer maps as the fitted mixture with centre bias and uniform (module docstring).
    """
    conv = get_convention(convention)
    unknown = [w for w in which if w not in BASELINES]
    if unknown:
        raise SchemaError(f"unknown baselines {unknown}; known: {list(BASELINES)}")
    names = list(DEFAULT_METRICS if not metrics else metrics)
    all_stimuli = list(shards.stimuli)
    eval_stimuli = all_stimuli if stimuli is None else list(stimuli)
    sizes = sizes_from_manifest(shards.manifest)
    frame = shards.fixations.data
    if train_stimuli is None:
        train_stimuli = centre_fit_stimuli(all_stimuli, eval_stimuli)
    centre = fit_centre_gaussian(frame, sizes, train_stimuli)
    blur = ShardBlur(shards.meta, sigma_px)
    pool = FixationPool.from_frame(frame, sizes)
    centre_maps: dict[tuple[int, int], np.ndarray] = {}
    ws = Workspace()

    def centre_map(shape: tuple[int, int]) -> np.ndarray:
        if shape not in centre_maps:
            centre_maps[shape] = centre.density(*shape)
        return centre_maps[shape]

    map_baselines = [b for b in which if b in ("chance", "centre_gaussian", "centre_loo")]
    obs_baselines = [b for b in which if b in OBSERVER_BASELINES]
    # pass 1 (observer baselines): mixture weights from the densities at every scored fixation
    mixture: dict[str, np.ndarray | None] = dict.fromkeys(obs_baselines)
    if regularize and obs_baselines:
        comps: dict[str, list[np.ndarray]] = {b: [] for b in obs_baselines}
        for gt in shards.iter_ground_truth(eval_stimuli):
            if len(gt.fixations):
                for b in obs_baselines:
                    comps[b].append(_components_at_fixations(gt, b, blur, centre_map((gt.height, gt.width))))
        for b in obs_baselines:
            c = np.concatenate(comps[b]) if comps[b] else np.empty((0, 3))
            mixture[b] = fit_mixture_weights(c) if len(c) else None

    streams = {b: build_metrics(names, conv, seed=seed) for b in map_baselines}
    # observer baselines build fresh metrics per image; their random streams still run on across images
    obs_rngs = {b: {m.name: m.rng for m in build_metrics(names, conv, seed=seed)} for b in obs_baselines}

    def _running(rngs: dict[str, np.random.Generator]) -> list:
        ms = build_metrics(names, conv, seed=seed)
        for m in ms:
            m.rng = rngs[m.name]
        return ms
    pooled = {b: _Pooled(names, conv.name == "pysaliency") for b in obs_baselines}
    rows: dict[str, list[dict[str, Any]]] = {b: [] for b in which}
    totals: dict[tuple[int, int], np.ndarray] = {}
    # mit: the same 10 random other images' fixations are every baseline's sAUC negatives (one stream)
    neg_rng = (np.random.default_rng(conv.seed if seed is None else seed)
               if conv.name == "mit" and "sauc" in names else None)

    for gt in shards.iter_ground_truth(eval_stimuli):
        shape = (gt.height, gt.width)
        fx = gt.fixations
        x = fx["x"].to_numpy(np.float64)
        y = fx["y"].to_numpy(np.float64)
        density = np.asarray(gt.density, dtype=np.float64)
        neg_idx = (pool.mit_negative_indices(gt.stimulus, shape, neg_rng) if neg_rng is not None
                   else pool.negative_indices(gt.stimulus, shape))
        base = centre_map(shape)
        head = {"stimulus": gt.stimulus, "n_fixations": int(x.size)}
        for b in map_baselines:
            if b == "chance":
                m = np.ones(shape)
            elif b == "centre_gaussian":
                m = base
            else:
                if shape not in totals:
                    ax, ay = shuffled_all(pool, shape)
                    counts = np.bincount(ay * shape[1] + ax, minlength=shape[0] * shape[1]).reshape(shape)
                    totals[shape] = blur.blur_counts(counts)
                own = pool.stimulus == gt.stimulus
                ox, oy = shuffled_all(pool, shape, own)
                m = totals[shape] - blur.blur(ox, oy, *shape) if own.any() else totals[shape]
                m = np.clip(m, 0, None)
                m = m / m.sum()
            res = image_results(streams[b], m, x_px=x, y_px=y, density=density, neg_idx=neg_idx, baseline=base,
                                shape=shape, workspace=ws)
            rows[b].append({**head, **record_results(streams[b], res)})
        for b in obs_baselines:
            if x.size == 0:
                rows[b].append({**head, **dict.fromkeys(names, float("nan"))})
                continue
            per_fix, per_map = _observer_baseline(gt, b, lambda b=b: _running(obs_rngs[b]), blur,
                                                  density, neg_idx, base, mixture[b], ws)
            rows[b].append({**head, **pooled[b].add_image(per_fix, per_map)})
        if on_image is not None:
            on_image(gt.stimulus)

    out: dict[str, EvaluationResult] = {}
    extra = {"centre_gaussian_fit_stimuli": len(train_stimuli), "sigma_px": blur.sigma_px,
             "blur_mode": blur.options.mode, "fc_cycles": blur.options.fc_cycles}
    for b in which:
        per_image = pd.DataFrame(rows[b], columns=["stimulus", "n_fixations", *names])
        if b in streams:
            summary, details = summarise(streams[b], per_image, conv.name, baseline=b, **extra)
        else:
            p = pooled[b]
            details = {}
            summary = {"convention": conv.name, "metrics": names, "n_images": len(per_image),
                       "baseline": b, **extra}
            if mixture.get(b) is not None:
                summary["mixture_weights"] = {"observer_map": float(mixture[b][0]),
                                              "centre_bias": float(mixture[b][1]), "uniform": float(mixture[b][2])}
            scored = per_image.dropna(subset=names, how="all")
            summary["n_skipped"] = int(len(per_image) - len(scored))
            for n in names:
                vals = np.asarray(p.values[n], dtype=np.float64)
                vals = vals[~np.isnan(vals)]
                summary[n] = float(vals.mean()) if vals.size else float("nan")
                d = {"metric": n, "convention": conv.name, "mean": summary[n], "n_images": int(vals.size),
                     "n_skipped": summary["n_skipped"]}
                if p.fix_n[n]:
                    summary[f"{n}_fixation_mean"] = p.fix_sum[n] / p.fix_n[n]
                    d["fixation_mean"] = summary[f"{n}_fixation_mean"]
                details[n] = d
        out[b] = EvaluationResult(per_image, summary, details)
    return out


def shuffled_all(pool: FixationPool, shape: tuple[int, int], mask: np.ndarray | None = None):
    """All (or ``mask``-selected) pooled fixations rescaled to ``shape`` as integer pixels, clipped inside."""
    from saliency.metrics.fixation import shuffled_negatives

    sel = slice(None) if mask is None else mask
    x, y = shuffled_negatives(pool.x_px[sel], pool.y_px[sel], pool.width_px[sel], pool.height_px[sel], shape)
    return np.clip(x, 0, shape[1] - 1), np.clip(y, 0, shape[0] - 1)
