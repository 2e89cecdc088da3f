"""Scoring every baseline on a shard set: :func:`compute_baselines` (two passes: mixture weights, then scores)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from saliency.baselines.centre_loo import LeaveOneImageOut
from saliency.baselines.mixture import components_by_mode, fit_mixture_weights
from saliency.baselines.observers import (
    OBSERVER_BASELINES,
    ObserverPool,
    observer_baseline,
    shared_observer_baselines,
    shared_path_applies,
    shared_path_fits,
)
from saliency.errors import SchemaError
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
from saliency.metrics.fixation import fixation_indices, to_density
from saliency.metrics.fused import Workspace, log_density_at
from saliency.metrics.jit import sum_min
from saliency.metrics.streaming import DEFAULT_METRICS, build_metrics

BASELINES = ("chance", "centre_gaussian", "centre_loo", "gold_standard", "one_human")


def compute_baselines(shards: Any, *, convention: str = "pysaliency", metrics: list[str] | None = None,
                      stimuli: list[str] | None = None, train_stimuli: list[str] | None = None,
                      which: tuple[str, ...] = BASELINES, sigma_px: float | None = None, seed: int | None = None,
                      regularize: bool = True, workers: int = 1,
                      on_image: Callable[[str], None] | None = None) -> dict[str, EvaluationResult]:
    """Score the baselines on ``stimuli`` (default all) of a shard set; returns name → EvaluationResult.

    train_stimuli: fixations the centre-bias Gaussian is fitted to (default: the stimuli not evaluated, or all
    when every stimulus is evaluated). IG is measured against that Gaussian (so its own IG is 0).
    sigma_px: blur of observer / leave-one-image-out maps (default ``shards.meta["sigma_px"]``); boundary
    mode, truncation, ``fc_cycles`` and weighting come from ``shards.meta["options"]``.
    regularize: score the observer maps as the fitted mixture with centre bias and uniform (module docstring).
    workers: threads scoring images concurrently (BLAS, numba and numpy sorts release the GIL); ground truth
    is read in order on the calling thread and results are recorded in image order, so values do not
    depend on ``workers``. Conventions with random streams (``mit``) always score on one thread.
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

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
    loo = LeaveOneImageOut(pool, blur)
    centre_maps: dict[tuple[int, int], np.ndarray] = {}
    centre_logs: dict[tuple[int, int], np.ndarray] = {}

    map_baselines = [b for b in which if b in ("chance", "centre_gaussian", "centre_loo")]
    obs_baselines = [b for b in which if b in OBSERVER_BASELINES]
    mixture = _fit_mixtures(frame, sizes, eval_stimuli, obs_baselines, blur, centre) if regularize else {}
    centre_parts: dict[tuple[str, tuple[int, int]], tuple[np.ndarray, np.ndarray]] = {}
    shared: dict[tuple[int, int], bool] = {}     # per size: observer maps shared (T − M_k) or blurred each
    # per size: the chance map, (sum, min) of it and of the centre map, the centre's log-density (flat)
    map_parts: dict[tuple[int, int], tuple] = {}

    def prepare(shape: tuple[int, int]) -> None:   # per-size caches, filled on the calling thread only
        if shape not in centre_maps:
            centre_maps[shape] = centre.density(*shape)
            centre_logs[shape] = np.log(to_density(centre_maps[shape])).ravel()
            for b, w in mixture.items():
                if w is not None:
                    centre_parts[(b, shape)] = (w, w[1] * centre_maps[shape])
        if map_baselines and shape not in map_parts:   # maps the same for every image of a size, and their sums
            ones, base = np.ones(shape), centre_maps[shape]
            map_parts[shape] = (ones, sum_min(ones.reshape(-1)), sum_min(base.reshape(-1)),
                                log_density_at(base, np.arange(base.size)))
        if "centre_loo" in map_baselines:
            loo.prepare(shape)
        if obs_baselines and shape not in shared:
            shared[shape] = shared_path_applies(build_metrics(names, conv, seed=seed), *blur.matrices(*shape))

    # observer baselines build fresh metrics per image; their random streams still run on across images
    obs_rngs = {b: {m.name: m.rng for m in build_metrics(names, conv, seed=seed)} for b in obs_baselines}

    def running(rngs: dict[str, np.random.Generator]) -> list:
        ms = build_metrics(names, conv, seed=seed)
        for m in ms:
            m.rng = rngs[m.name]
        return ms

    # mit: the same 10 random other images' fixations are every baseline's sAUC negatives (one stream)
    neg_rng = (np.random.default_rng(conv.seed if seed is None else seed)
               if conv.name == "mit" and "sauc" in names else None)
    if conv.name != "pysaliency":
        workers = 1     # random streams (e.g. AUC-Borji's samples) must be drawn in image order
    streams = {b: build_metrics(names, conv, seed=seed) for b in map_baselines}
    pooled = {b: ObserverPool(names, conv.name == "pysaliency") for b in obs_baselines}
    rows: dict[str, list[dict[str, Any]]] = {b: [] for b in which}
    local = threading.local()

    def score(gt, neg_idx: np.ndarray) -> dict[str, Any]:
        """Every baseline of one image, nothing recorded (runs on worker threads)."""
        if not hasattr(local, "ws"):
            local.ws = Workspace()
        shape = (gt.height, gt.width)
        fx = gt.fixations
        x = fx["x"].to_numpy(np.float64)
        y = fx["y"].to_numpy(np.float64)
        density = np.asarray(gt.density, dtype=np.float64)
        d_sum, d_min = float(density.sum()), float(density.min())
        d_stats = (d_sum, d_min) if np.isfinite(d_sum) and np.isfinite(d_min) else None
        base = centre_maps[shape]
        out: dict[str, Any] = {}
        if map_baselines:
            ones, ones_stats, base_stats, base_log = map_parts[shape]
            fix_log = (base_log[fixation_indices(x, y, shape)]    # what image_results would take from ``base``
                       if conv.name == "pysaliency" else None)
        for b in map_baselines:
            m, stats = ((ones, ones_stats) if b == "chance" else (base, base_stats) if b == "centre_gaussian"
                        else (loo.map(gt.stimulus, shape), None))
            out[b] = image_results(streams[b], m, x_px=x, y_px=y, density=density, neg_idx=neg_idx,
                                   baseline=base, baseline_log=fix_log, shape=shape, workspace=local.ws,
                                   map_stats=stats, density_stats=d_stats)
        if (obs_baselines and x.size and shared[shape] and d_stats is not None and d_stats[0] > 0
                and d_stats[1] >= 0 and shared_path_fits(gt)):
            out.update(shared_observer_baselines(
                gt, tuple(obs_baselines), {b: (lambda b=b: running(obs_rngs[b])) for b in obs_baselines}, blur,
                density, d_stats, neg_idx, centre_logs[shape], {b: centre_parts.get((b, shape)) for b in obs_baselines},
                local.ws))
        elif obs_baselines and x.size:
            for b in obs_baselines:
                out[b] = observer_baseline(gt, b, lambda b=b: running(obs_rngs[b]), blur, density,
                                           neg_idx, centre_logs[shape], centre_parts.get((b, shape)), local.ws)
        return out

    def record(gt, results: dict[str, Any]) -> None:
        head = {"stimulus": gt.stimulus, "n_fixations": len(gt.fixations)}
        for b in map_baselines:
            rows[b].append({**head, **record_results(streams[b], results[b])})
        for b in obs_baselines:
            if b not in results:
                rows[b].append({**head, **dict.fromkeys(names, float("nan"))})
            else:
                rows[b].append({**head, **pooled[b].add_image(*results[b])})
        if on_image is not None:
            on_image(gt.stimulus)

    with threadpool_limits(1), ThreadPoolExecutor(max(1, workers)) as ex:
        pending: list[tuple[Any, Any]] = []
        for gt in shards.iter_ground_truth(eval_stimuli):
            shape = (gt.height, gt.width)
            prepare(shape)
            neg_idx = (pool.mit_negative_indices(gt.stimulus, shape, neg_rng) if neg_rng is not None
                       else pool.negative_indices(gt.stimulus, shape))
            if workers <= 1:
                record(gt, score(gt, neg_idx))
                continue
            pending.append((gt, ex.submit(score, gt, neg_idx)))
            while len(pending) > 2 * workers:
                g, fut = pending.pop(0)
                record(g, fut.result())
        for g, fut in pending:
            record(g, fut.result())

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


def _fit_mixtures(frame: pd.DataFrame, sizes: dict[str, tuple[int, int]], stimuli: list[str],
                  baselines: list[str], blur: ShardBlur, centre: Any) -> dict[str, np.ndarray | None]:
    """Pass 1: mixture weights of each observer baseline from the component densities at every scored
    fixation (fixations and sizes only; no map is read)."""
    if not baselines:
        return {}
    comps: dict[str, list[np.ndarray]] = {b: [] for b in baselines}
    groups = frame.groupby("stimulus", sort=False).indices
    centre_maps: dict[tuple[int, int], np.ndarray] = {}
    for s in stimuli:
        rows = groups.get(s)
        if rows is None or not len(rows):
            continue
        shape = sizes[s]
        if shape not in centre_maps:
            centre_maps[shape] = centre.density(*shape)
        gt = SimpleNamespace(fixations=frame.iloc[rows], height=shape[0], width=shape[1])
        for b, c in components_by_mode(gt, tuple(baselines), blur, centre_maps[shape]).items():
            comps[b].append(c)
    from concurrent.futures import ThreadPoolExecutor

    def fit(b: str) -> np.ndarray | None:
        c = np.concatenate(comps[b]) if comps[b] else np.empty((0, 3))
        return fit_mixture_weights(c) if len(c) else None

    with ThreadPoolExecutor(len(baselines)) as ex:     # independent fits; numpy and the EM kernel release the GIL
        return dict(zip(baselines, ex.map(fit, baselines), strict=True))
