"""Baselines every saliency model is compared with (rows of the results table).

- ``chance``: a constant map (AUC 0.5, NSS 0, CC 0).
- ``centre_gaussian``: a 2-D Gaussian fitted to the training fixations (normalised coordinates).
- ``centre_loo``: the leave-one-image-out average of all other images' fixation maps (rescaled to the image,
  blurred with the shards' σ).
- ``gold_standard``: leave-one-observer-out: each observer's fixations are scored with the map built from
  the other observers' fixations on the same image (blur σ of the shards), values pooled per image.
- ``one_human``: each observer's own map predicts the other observers' fixations; pooled per image.

All are scored by the streaming metrics of :mod:`saliency.metrics` in one pass over the shards. NSS of the
observer maps uses a closed form (mean, variance and fixated values of a sum of separable Gaussians from
K×K Gram matrices), so the gold-standard NSS of a dataset takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter

from saliency.baselines.blur import _kernel_matrix, blur_points, kernel_1d
from saliency.baselines.centre import CentreGaussian, fit_centre_gaussian
from saliency.errors import SchemaError
from saliency.metrics.conventions import get_convention
from saliency.metrics.evaluation import (
    EvaluationResult,
    FixationPool,
    score_image,
    sizes_from_manifest,
    summarise,
)
from saliency.metrics.fixation import fixation_indices
from saliency.metrics.streaming import DEFAULT_METRICS, build_metrics

__all__ = ["BASELINES", "CentreGaussian", "compute_baselines", "fit_centre_gaussian", "observer_nss"]

BASELINES = ("chance", "centre_gaussian", "centre_loo", "gold_standard", "one_human")


def observer_nss(x_px: np.ndarray, y_px: np.ndarray, observer: np.ndarray, height: int, width: int,
                 sigma_px: float, *, mode: str = "gold_standard", ddof: int = 0,
                 binary: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """NSS of observer maps for one image, in closed form.

    mode ``gold_standard``: observer o's fixations scored on the blurred map of everyone else's;
    ``one_human``: everyone else's fixations scored on o's map. Maps are Σ_k w_k g(i − y_k) g(j − x_k)
    (scipy's truncated Gaussian, mode constant), whose mean, std (``ddof``) and values at fixations follow
    from Gram matrices of the 1-D kernels. ``binary``: duplicates within a scored set merged (``mit``).
    Returns (per-fixation NSS values pooled over observers, NSS per observer (mean of its values)).
    """
    xi = np.asarray(x_px, dtype=np.float64).astype(np.int64)
    yi = np.asarray(y_px, dtype=np.float64).astype(np.int64)
    k = kernel_1d(sigma_px)
    ky = _kernel_matrix(yi, height, k)          # (K, H)
    kx = _kernel_matrix(xi, width, k)           # (K, W)
    gram = (ky @ ky.T) * (kx @ kx.T)            # Σ_ij M² = wᵀ G w
    mass = ky.sum(1) * kx.sum(1)                # Σ_ij of each point's blob
    at = ky[:, yi] * kx[:, xi]                  # (K sources, K targets): blob k at fixation f
    npix = height * width
    obs = np.asarray(observer)
    values, per_obs = [], []
    for o in np.unique(obs):
        mine = obs == o
        w = (~mine if mode == "gold_standard" else mine).astype(np.float64)
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
                if self.pys:
                    row[n] = float(v.mean()) if v.size else float("nan")
                    self.fix_sum[n] += float(v.sum())
                    self.fix_n[n] += int(v.size)
                else:
                    row[n] = float(np.mean(per_map[n])) if per_map.get(n) else float("nan")
            else:
                row[n] = float(np.mean(per_map[n])) if per_map.get(n) else float("nan")
            self.values[n].append(row[n])
        return row


def _observer_baseline(gt, mode: str, names: list[str], conv, sigma_px: float, density: np.ndarray,
                       neg, base, seed) -> tuple[dict[str, list[np.ndarray]], dict[str, list[float]]]:
    fx = gt.fixations
    x = fx["x"].to_numpy(np.float64)
    y = fx["y"].to_numpy(np.float64)
    obs = fx["observer"].astype(str).to_numpy()
    per_fix: dict[str, list[np.ndarray]] = {n: [] for n in names}
    per_map: dict[str, list[float]] = {n: [] for n in names}
    fixation_indices(x, y, (gt.height, gt.width))  # bounds check with a clear error
    if "nss" in names:
        vals, per_o = observer_nss(x, y, obs, gt.height, gt.width, sigma_px, mode=mode, ddof=conv.std_ddof,
                                   binary=conv.binary_fixations)
        per_fix["nss"].append(vals)
        per_map["nss"].extend(per_o.tolist())
    others = [n for n in names if n != "nss"]
    if not others:
        return per_fix, per_map
    xi, yi = x.astype(np.int64), y.astype(np.int64)
    for o in np.unique(obs):
        mine = obs == o
        src = ~mine if mode == "gold_standard" else mine
        tgt = mine if mode == "gold_standard" else ~mine
        if not src.any() or not tgt.any():
            continue
        m = blur_points(xi[src], yi[src], gt.height, gt.width, sigma_px)
        ms = build_metrics(others, conv, seed=seed)
        score_image(ms, m, x_px=x[tgt], y_px=y[tgt], density=density, neg=neg, baseline=base)
        for met in ms:
            per_map[met.name].extend(met.values)
            if met.fixation_count:
                per_fix[met.name].append(np.full(met.fixation_count, met.fixation_sum / met.fixation_count))
    return per_fix, per_map


def compute_baselines(shards: Any, *, convention: str = "pysaliency", metrics: list[str] | None = None,
                      stimuli: list[str] | None = None, train_stimuli: list[str] | None = None,
                      which: tuple[str, ...] = BASELINES, sigma_px: float | None = None, seed: int | None = None,
                      on_image: Callable[[str], None] | None = None) -> dict[str, EvaluationResult]:
    """Score the baselines on ``stimuli`` (default all) of a shard set; returns name → EvaluationResult.

    train_stimuli: fixations the centre-bias Gaussian is fitted to (default: the stimuli not evaluated, or all
    when every stimulus is evaluated). IG is measured against that Gaussian (so its own IG is 0).
    sigma_px: blur of observer / leave-one-image-out maps (default ``shards.meta["sigma_px"]``).
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
        rest = sorted(set(all_stimuli) - set(eval_stimuli))
        train_stimuli = rest if rest else all_stimuli
    centre = fit_centre_gaussian(frame, sizes, train_stimuli)
    sigma = float(sigma_px if sigma_px is not None else shards.meta["sigma_px"])
    pool = FixationPool.from_frame(frame, sizes)

    map_baselines = [b for b in which if b in ("chance", "centre_gaussian", "centre_loo")]
    obs_baselines = [b for b in which if b in ("gold_standard", "one_human")]
    streams = {b: build_metrics(names, conv, seed=seed) for b in map_baselines}
    pooled = {b: _Pooled(names, conv.name == "pysaliency") for b in obs_baselines}
    rows: dict[str, list[dict[str, Any]]] = {b: [] for b in which}
    totals: dict[tuple[int, int], np.ndarray] = {}

    for gt in shards.iter_ground_truth(eval_stimuli):
        shape = (gt.height, gt.width)
        fx = gt.fixations
        x = fx["x"].to_numpy(np.float64)
        y = fx["y"].to_numpy(np.float64)
        density = np.asarray(gt.density, dtype=np.float64)
        nx, ny = pool.negatives_for(gt.stimulus, shape)
        neg = (nx, ny)
        base = centre.density(*shape)
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
                    totals[shape] = gaussian_filter(counts.astype(np.float64), sigma, mode="constant")
                own = pool.stimulus == gt.stimulus
                ox, oy = shuffled_all(pool, shape, own)
                m = totals[shape] - blur_points(ox, oy, *shape, sigma) if own.any() else totals[shape]
                m = np.clip(m, 0, None)
                m = m / m.sum()
            rows[b].append({**head, **score_image(streams[b], m, x_px=x, y_px=y, density=density, neg=neg,
                                                  baseline=base)})
        for b in obs_baselines:
            if x.size == 0:
                rows[b].append({**head, **dict.fromkeys(names, float("nan"))})
                continue
            per_fix, per_map = _observer_baseline(gt, b, names, conv, sigma, density, neg, base, seed)
            rows[b].append({**head, **pooled[b].add_image(per_fix, per_map)})
        if on_image is not None:
            on_image(gt.stimulus)

    out: dict[str, EvaluationResult] = {}
    extra = {"centre_gaussian_fit_stimuli": len(train_stimuli), "sigma_px": sigma}
    for b in which:
        per_image = pd.DataFrame(rows[b], columns=["stimulus", "n_fixations", *names])
        if b in streams:
            summary, details = summarise(streams[b], per_image, conv.name, baseline=b, **extra)
        else:
            p = pooled[b]
            details = {}
            summary = {"convention": conv.name, "metrics": names, "n_images": len(per_image),
                       "baseline": b, **extra}
            scored = per_image.dropna(subset=names, how="all")
            summary["n_skipped"] = int(len(per_image) - len(scored))
            for n in names:
                vals = np.asarray(p.values[n], dtype=np.float64)
                vals = vals[np.isfinite(vals)]
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
