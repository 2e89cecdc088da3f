"""Score predictions against ground-truth shards: :func:`evaluate` → :class:`EvaluationResult`.

``shards`` is a ``saliency.shards.ShardSet`` or anything with the same members used here:
``stimuli``, ``manifest`` (columns stimulus, height, width), ``fixations`` (a FixationTable),
``iter_ground_truth(stimuli)`` yielding objects with ``stimulus``, ``height``, ``width``, ``density``,
``fixations`` (a DataFrame with columns x, y, observer).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, SaliencyError, SchemaError
from saliency.metrics.conventions import MIT_N_OTHER, get_convention
from saliency.metrics.streaming import StreamingMetric, build_metrics


@dataclass
class EvaluationResult:
    """``per_image``: one row per stimulus (stimulus, n_fixations, one column per metric, NaN = skipped);
    ``summary``: metric → mean over images, ``<metric>_fixation_mean`` (pysaliency fixation metrics), counts,
    the convention; ``details``: each metric's full :meth:`StreamingMetric.compute` dict."""

    per_image: pd.DataFrame
    summary: dict[str, Any]
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_fixation: pd.DataFrame | None = None   # evaluate(keep_per_fixation=True): one row per fixation

    def save(self, out_dir: str | Path, *, name: str = "") -> dict[str, Path]:
        """Write ``per_image.csv``, ``per_image.parquet`` and ``summary.json`` (atomically) under ``out_dir``."""
        from saliency.io import atomic_path, atomic_write, write_json

        out = Path(out_dir)
        prefix = f"{name}_" if name else ""
        paths = {"csv": out / f"{prefix}per_image.csv", "parquet": out / f"{prefix}per_image.parquet",
                 "summary": out / f"{prefix}summary.json"}
        with atomic_write(paths["csv"], "w") as fh:
            self.per_image.to_csv(fh, index=False, float_format="%.10g")
        with atomic_path(paths["parquet"]) as tmp:
            self.per_image.to_parquet(tmp, index=False)
        write_json(paths["summary"], {"summary": _jsonable(self.summary),
                                      "details": _jsonable(self.details)})
        return paths


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def gap_closed(model_nss: float, centre_nss: float, gold_nss: float) -> float:
    """Fraction of the centre-bias → gold-standard gap a model closes: (m − c) / (g − c).

    0 = no better than the centre bias, 1 = as good as the leave-one-observer-out gold standard.
    """
    gap = gold_nss - centre_nss
    if gap == 0:
        raise ConfigError("gold standard and centre bias score the same; the gap is undefined")
    return (model_nss - centre_nss) / gap


# ------------------------------------------------------------------------------------------ shared inputs
def rows_by_stimulus(stimulus: np.ndarray | pd.Series) -> dict[str, np.ndarray]:
    """Stimulus name → its row positions in a fixation table's ``stimulus`` column (ascending), from one
    factorisation of the whole column."""
    codes, names = pd.factorize(pd.Series(np.asarray(stimulus)), sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {str(n): order[bounds[i]:bounds[i + 1]] for i, n in enumerate(names)}


class FixationPool:
    """All fixations of a dataset with their stimulus sizes, for shuffled-AUC negatives.

    :meth:`negative_indices` rescales every pooled fixation to a target shape once per distinct shape (cached:
    one int64 per fixation and shape) and removes the stimulus's own rows; per image that is one copy.
    """

    def __init__(self, stimulus: np.ndarray, x_px: np.ndarray, y_px: np.ndarray, width_px: np.ndarray,
                 height_px: np.ndarray) -> None:
        self.stimulus = np.asarray(stimulus)
        self.x_px = np.asarray(x_px, dtype=np.float64)
        self.y_px = np.asarray(y_px, dtype=np.float64)
        self.width_px = np.asarray(width_px, dtype=np.float64)
        self.height_px = np.asarray(height_px, dtype=np.float64)
        self._rows = rows_by_stimulus(self.stimulus)
        self._flat: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, sizes: Mapping[str, tuple[int, int]]) -> FixationPool:
        """frame: columns stimulus, x, y; sizes: stimulus → (height, width)."""
        from saliency.metrics.centre_bias import row_sizes

        st = frame["stimulus"].astype(str).to_numpy()
        missing = sorted(set(pd.unique(st)) - set(sizes))
        if missing:
            raise SchemaError(f"fixations refer to stimuli without a size: {missing[:5]}")
        h, w = row_sizes(st, sizes)
        return cls(st, frame["x"].to_numpy(np.float64), frame["y"].to_numpy(np.float64), w, h)

    def mit_negative_indices(self, stimulus: str, shape: tuple[int, int], rng: np.random.Generator,
                             n_other: int = MIT_N_OTHER) -> np.ndarray:
        """``mit`` shuffled-AUC negatives as the benchmark's driver (``scoreModel_helper.m``) builds them:
        ``n_other`` (10) other images drawn at random (a permutation from ``rng``, the running stream) from
        the pool's stimuli in name order; their binary fixation maps resized to ``shape`` and summed; the
        flat indices of the positive pixels (:func:`saliency.metrics.fixation.mit_other_map`). With fewer
        than ``n_other`` other images, all of them."""
        from saliency.metrics.fixation import mit_other_map

        others = [s for s in sorted(self._rows) if s != str(stimulus)]
        chosen = [others[i] for i in rng.permutation(len(others))[:n_other]]
        parts = []
        for s in chosen:
            r = self._rows[s]
            hw = (int(self.height_px[r[0]]), int(self.width_px[r[0]]))
            parts.append((self.x_px[r], self.y_px[r], hw))
        return mit_other_map(parts, shape)

    def _sorted_flat(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(every pooled fixation's flat index in ``shape``, ascending; each row's position in it), cached."""
        from saliency.metrics.fixation import fixation_indices, shuffled_negatives

        key = (int(shape[0]), int(shape[1]))
        with self._lock:
            cached = self._flat.get(key)
            if cached is None:
                xs, ys = shuffled_negatives(self.x_px, self.y_px, self.width_px, self.height_px, key)
                flat = fixation_indices(xs, ys, key)
                perm = np.argsort(flat, kind="stable")
                rank = np.empty_like(perm)
                rank[perm] = np.arange(perm.size)
                cached = self._flat[key] = (flat[perm], rank)
        return cached

    def negative_indices(self, stimulus: str, shape: tuple[int, int]) -> np.ndarray:
        """Flat pixel indices ``int(y·H/H_o)·W + int(x·W/W_o)`` of every other stimulus's fixations in ``shape``,
        in ascending order (the gather of map values at them then walks the map forwards)."""
        flat_sorted, rank = self._sorted_flat(shape)
        own = self._rows.get(str(stimulus))
        return np.delete(flat_sorted, rank[own]) if own is not None and own.size else flat_sorted

    def negative_split(self, stimulus: str, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(every pooled fixation's flat index in ``shape``, ascending — one cached array for all images of
        that shape —, the flat indices of ``stimulus``'s own fixations among them): :meth:`negative_indices`
        without the copy; the fused sAUC subtracts the own fixations' counts instead."""
        flat_sorted, rank = self._sorted_flat(shape)
        own = self._rows.get(str(stimulus))
        return flat_sorted, (flat_sorted[rank[own]] if own is not None and own.size else _NO_ROWS)


def without_each(sorted_idx: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """``sorted_idx`` (ascending) with one occurrence removed per entry of ``exclude`` (all present)."""
    ex = np.sort(np.asarray(exclude, dtype=np.int64))
    first = np.searchsorted(sorted_idx, ex, side="left")
    nth = np.arange(ex.size) - np.searchsorted(ex, ex, side="left")     # repeated entries: the next occurrence
    return np.delete(sorted_idx, first + nth)


def sizes_from_manifest(manifest: pd.DataFrame) -> dict[str, tuple[int, int]]:
    return {str(s): (int(h), int(w)) for s, h, w in
            zip(manifest["stimulus"], manifest["height"], manifest["width"], strict=True)}


Result = tuple[float, np.ndarray | None] | None   # (image score, per-fixation values), None = skipped
_NO_ROWS = np.empty(0, np.int64)
_BATCH = 4  # images per task of evaluate's direct path


def image_results(metrics: Iterable[StreamingMetric], saliency_map: np.ndarray, *, x_px: np.ndarray,
                  y_px: np.ndarray, density: np.ndarray | Any | None,
                  neg: tuple[np.ndarray, np.ndarray] | None = None,
                  baseline: np.ndarray | None = None, log_density: bool = False,
                  neg_idx: np.ndarray | None = None, baseline_log: np.ndarray | None = None,
                  neg_exclude: np.ndarray | None = None, fix_idx: np.ndarray | None = None,
                  shape: tuple[int, int] | None = None, workspace: Any = None,
                  map_stats: tuple[float, float] | None = None,
                  density_stats: tuple[float, float] | None = None) -> dict[str, Result]:
    """Score one image with every metric WITHOUT recording it (thread-safe); metric name → result.

    ``density``: the (H, W) ground truth, or a :class:`saliency.metrics.fused.QuantizedDensity` standing for
    it. ``pysaliency``-convention metrics go through :func:`saliency.metrics.fused.score_pysaliency` (one pass);
    the others through their own ``_score``. Negatives may be given as coordinates (``neg``) or flat
    indices (``neg_idx``; ``neg_exclude``: indices among them that do not count, e.g. the image's own fixations
    from :meth:`FixationPool.negative_split`; ``fix_idx``: the fixations' flat indices in ``shape`` when the
    caller has them), the IG baseline as a map (``baseline``) or as its log-density at the fixations
    (``baseline_log``). ``workspace``: a :class:`saliency.metrics.fused.Workspace` reused across images
    (one per thread). ``map_stats`` / ``density_stats``: (sum, min) of the map / ground truth if known
    (:func:`~saliency.metrics.fused.score_pysaliency`; ignored when the map is resized).
    """
    from saliency.metrics.fixation import _fit, fixation_indices
    from saliency.metrics.fused import FUSED_METRICS, QuantizedDensity, log_density_at, score_pysaliency

    metrics = list(metrics)
    if shape is None and density is not None:
        shape = tuple(density.shape[-2:] if isinstance(density, QuantizedDensity) else np.shape(density)[-2:])
    out: dict[str, Result] = {}
    active = []
    for m in metrics:
        if m.skips(x_px):
            out[m.name] = None
            continue
        m.check_inputs(density=density,
                       baseline=baseline if baseline is not None else baseline_log,
                       neg_x_px=neg[0] if neg is not None else neg_idx)
        active.append(m)
    fused = [m for m in active if m.convention.name == "pysaliency" and m.name in FUSED_METRICS]
    rest = [m for m in active if m not in fused]
    smap = np.asarray(saliency_map)
    if fused:
        conv = fused[0].convention
        m2 = smap[0] if smap.ndim == 3 and smap.shape[0] == 1 else smap
        if shape is not None and m2.ndim == 2 and m2.shape != tuple(shape):
            m2 = _fit(np.asarray(m2, dtype=np.float64), shape, conv, any(bool(m.resize) for m in fused))
            map_stats = None
        names = {m.name for m in fused}
        n_fix = 0 if x_px is None else len(x_px)
        if fix_idx is None or shape is None or fix_idx.size != n_fix or tuple(m2.shape) != tuple(shape):
            fix_idx = fixation_indices(x_px, y_px, m2.shape) if n_fix else np.empty(0, np.int64)
        if "sauc" in names and neg_idx is None:
            neg_idx = fixation_indices(neg[0], neg[1], m2.shape)
        if "ig" in names and n_fix and baseline_log is None:
            b = _fit(np.asarray(baseline, dtype=np.float64), m2.shape, conv,
                     any(bool(m.resize) for m in fused), "baseline map")
            baseline_log = log_density_at(b, fix_idx)
        out.update(score_pysaliency(m2, fix_idx, names, density=density, neg_idx=neg_idx, neg_exclude=neg_exclude,
                                    baseline_log=baseline_log, log_density=log_density,
                                    workspace=workspace, map_stats=map_stats, density_stats=density_stats))
    if rest:
        if isinstance(density, QuantizedDensity):
            density = density.array()
        if neg_exclude is not None and neg_idx is not None and len(neg_exclude):
            neg_idx = without_each(neg_idx, neg_exclude)
        if neg is None and neg_idx is not None and shape is not None:
            neg = (neg_idx % shape[1], neg_idx // shape[1])
        for m in rest:
            out[m.name] = m._score(smap, x_px=x_px, y_px=y_px, density=density,
                                   neg_x_px=neg[0] if (neg is not None and m.needs_negatives) else None,
                                   neg_y_px=neg[1] if (neg is not None and m.needs_negatives) else None,
                                   baseline=baseline if m.needs_baseline else None, shape=shape,
                                   log_density=log_density)
    return out


def checked_map(stimulus: str, smap: Any, log_density: bool = False) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(``smap`` as a float32/float64 array, its (sum, min) or None), or a :class:`SchemaError` naming the
    stimulus: not numeric, not 2-D (a leading axis of 1 is allowed), or holding NaN/±inf (``log_density``:
    −inf is a zero density). float32 stays float32 (every metric converts values exactly where it needs
    float64); finiteness is read off the sum (one compiled pass), the values are searched only when it is
    not finite. The (sum, min) is returned for maps that are not log-densities (the metrics reuse it)."""
    from saliency.metrics.jit import sum_min

    try:
        a = np.asarray(smap)
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"prediction for stimulus {stimulus!r} is not a numeric array ({exc})") from exc
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[0] == 1)) or a.size == 0:
        raise SchemaError(f"prediction for stimulus {stimulus!r} has shape {a.shape}; expected a 2-D (H, W) map")
    flat = np.ascontiguousarray(a).reshape(-1)
    stats = sum_min(flat)
    if np.isfinite(stats[0]):
        return a, (None if log_density else stats)
    bad = np.isnan(a) | (np.isposinf(a) if log_density else np.isinf(a))
    if bad.any():
        y, x = np.unravel_index(int(np.flatnonzero(bad.reshape(-1))[0]), a.shape)[-2:]
        raise SchemaError(f"prediction for stimulus {stimulus!r} holds {int(bad.sum())} non-finite values "
                          f"(first at row {y}, column {x}: {a.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]})")
    return a, None          # finite values whose sum overflows, or a log-density with −inf


def check_finite_results(stimulus: str, smap: np.ndarray, results: Mapping[str, Result]) -> None:
    """A metric whose score came out NaN or ±inf (e.g. a finite map ×1e308 overflows float64 in NSS/CC, or a
    zero density at a fixation gives IG −inf) is a :class:`SchemaError` naming the stimulus, never a
    silent row of the table."""
    bad = []
    for name, r in results.items():
        if r is None or (isinstance(r[0], float) and math.isfinite(r[0])):     # the usual case, without numpy
            continue
        value = np.asarray(r[0], dtype=np.float64)
        if not np.isfinite(value).all():
            bad.append(f"{name} = {float(value.reshape(-1)[0])}")
    if bad:
        finite = smap[np.isfinite(smap)]
        span = f"values {finite.min():g} … {finite.max():g}" if finite.size else "no finite values"
        raise SchemaError(f"prediction for stimulus {stimulus!r}: {', '.join(bad)} is not finite (map {span}); "
                          "rescale the map (e.g. divide by its maximum) or fix its zeros")


def record_results(metrics: Iterable[StreamingMetric], results: Mapping[str, Result]) -> dict[str, float]:
    """Record :func:`image_results` in the streaming metrics (in image order); metric name → image score."""
    return {m.name: (m.skip() if results[m.name] is None else m.record(*results[m.name])) for m in metrics}


def score_image(metrics: Iterable[StreamingMetric], saliency_map: np.ndarray, *, x_px: np.ndarray,
                y_px: np.ndarray, density: np.ndarray | None, neg: tuple[np.ndarray, np.ndarray] | None,
                baseline: np.ndarray | None, log_density: bool = False) -> dict[str, float]:
    """Update every metric with one image; returns metric name → image score."""
    metrics = list(metrics)
    return record_results(metrics, image_results(metrics, saliency_map, x_px=x_px, y_px=y_px, density=density,
                                                 neg=neg, baseline=baseline, log_density=log_density))


def summarise(metrics: list[StreamingMetric], per_image: pd.DataFrame, convention: str,
              **extra: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    details = {m.name: m.compute() for m in metrics}
    summary: dict[str, Any] = {"convention": convention, "metrics": [m.name for m in metrics],
                               "n_images": len(per_image)}
    skipped = {d["n_skipped"] for d in details.values() if d["n_skipped"]}
    summary["n_skipped"] = max(skipped) if skipped else 0
    for name, d in details.items():
        summary[name] = d["mean"]
        if "fixation_mean" in d:
            summary[f"{name}_fixation_mean"] = d["fixation_mean"]
    summary.update(extra)
    return summary, details


def _needs(metrics: list[StreamingMetric], attr: str) -> bool:
    return any(getattr(m, attr) for m in metrics)


class _ProbabilisticMaps:
    """Per image: the metric-specific maps of a log-density prediction, each metric scored on its own map."""

    def __init__(self, ms: list[StreamingMetric], shards: Any, centre: Any, blur: Any,
                 others: Any = None) -> None:
        """others: an :class:`saliency.metrics.shuffled_baseline.OtherImagesAverage` for the benchmark's
        model-average sAUC baseline; None: the centre bias ``centre``."""
        from saliency.metrics.probabilistic import map_for_metric

        self.kinds = {m.name: map_for_metric(m.name) for m in ms}
        self.groups: dict[str, list[StreamingMetric]] = {}
        for m in ms:
            self.groups.setdefault(self.kinds[m.name], []).append(m)
        self.centre = centre
        self.others = others
        self._centre_logs: dict[tuple[int, int], np.ndarray] = {}
        self.blur = blur
        self._shard_blur = None
        if blur is None and "expected" in self.groups:
            from saliency.maps.shard_blur import ShardBlur

            meta = getattr(shards, "meta", None) or {}
            if "sigma_px" not in meta:
                raise ConfigError("the expected empirical saliency map needs the ground truth's blur: the shard "
                                  "set has no sigma_px in its metadata (pass blur=σ in pixels)")
            self._shard_blur = ShardBlur(meta)
        self._lock = threading.Lock()

    def _centre_log(self, shape: tuple[int, int]) -> np.ndarray:
        with self._lock:
            if shape not in self._centre_logs:
                with np.errstate(divide="ignore"):
                    self._centre_logs[shape] = np.log(self.centre.density(*shape))
            return self._centre_logs[shape]

    def _nonfixation_log(self, smap: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
        if "sauc" not in self.groups:
            return None
        if self.others is not None:
            return self.others.nonfixation_log_density(smap, shape)
        return self._centre_log(shape)

    def maps(self, smap: np.ndarray, shape: tuple[int, int], stimulus: str) -> dict[str, np.ndarray]:
        """Map kind → (H, W) map of one stimulus (the kinds the metrics need)."""
        from saliency.metrics.probabilistic import metric_maps

        blur = self.blur
        if blur is None and self._shard_blur is not None:
            blur = self._shard_blur.matrices(*shape)
        return metric_maps(smap, kinds=list(self.groups), stimulus=stimulus, blur=blur,
                           nonfixation_log_density=self._nonfixation_log(smap, shape))

    def results(self, smap: np.ndarray, kw: dict[str, Any], stimulus: str, workspace: Any) -> dict[str, Result]:
        maps = self.maps(smap, kw["shape"], stimulus)
        out: dict[str, Result] = {}
        for kind, group in self.groups.items():
            out.update(image_results(group, maps[kind], workspace=workspace,
                                     **{**kw, "log_density": kind == "log"}))
        return out


def model_average_baseline(predict: Callable[[Any], np.ndarray] | Mapping[str, np.ndarray], shards: Any,
                           names: list[str]) -> Any:
    """The benchmark's shuffled-AUC baseline (:mod:`saliency.metrics.shuffled_baseline`): one pass over the
    predictions of the scored stimuli ``names`` (a callable ``predict`` runs once more per image)."""
    from saliency.metrics.probabilistic import check_log_density
    from saliency.metrics.shuffled_baseline import OtherImagesAverage

    def lds():
        if isinstance(predict, Mapping):
            for s in names:
                yield check_log_density(predict[s], stimulus=s)
        else:
            for gt in shards.iter_ground_truth(names):
                yield check_log_density(predict(gt), stimulus=gt.stimulus)

    return OtherImagesAverage(lds())


def _check_sauc_baseline(sauc_baseline: str) -> None:
    from saliency.metrics.shuffled_baseline import SAUC_BASELINES

    if sauc_baseline not in SAUC_BASELINES:
        raise ConfigError(f"unknown shuffled-AUC baseline {sauc_baseline!r}; choose one of {list(SAUC_BASELINES)}")


def iter_metric_maps(predict: Mapping[str, np.ndarray], shards: Any, *, stimuli: list[str] | None = None,
                     metrics: list[str] | tuple[str, ...] | None = None,
                     blur: Any = None, sauc_baseline: str = "centre") -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(stimulus, map kind → (H, W) map) for each stimulus: the metric-specific maps that
    ``evaluate(probabilistic=True)`` scores (same centre-bias rule, same blur, same ``sauc_baseline``).
    ``predict``: stimulus → log-density at the stimulus's size; ``metrics`` selects the kinds (default all
    metrics incl. LL)."""
    from saliency.metrics.centre_bias import fit_scoring_centre
    from saliency.metrics.streaming import DEFAULT_METRICS

    _check_sauc_baseline(sauc_baseline)
    names = list(shards.stimuli) if stimuli is None else list(stimuli)
    ms = build_metrics(list(metrics) if metrics else [*DEFAULT_METRICS, "ll"])
    centre = fit_scoring_centre(shards.fixations.data, sizes_from_manifest(shards.manifest),
                                list(shards.stimuli), names)
    others = (model_average_baseline(predict, shards, names)
              if sauc_baseline == "model" and any(m.name == "sauc" for m in ms) else None)
    prob = _ProbabilisticMaps(ms, shards, centre, blur, others)
    sizes = sizes_from_manifest(shards.manifest)
    for s in names:
        yield s, prob.maps(predict[s], sizes[s], s)


# ------------------------------------------------------------------------------------------------ evaluate
def evaluate(predict: Callable[[Any], np.ndarray] | Mapping[str, np.ndarray], shards: Any, *,
             metrics: list[str] | tuple[str, ...] | None = None, convention: str = "pysaliency",
             log_density: bool = False, resize: bool | None = None,
             baseline: Callable[[Any], np.ndarray] | None = None, stimuli: list[str] | None = None,
             seed: int | None = None, on_image: Callable[[str], None] | None = None, workers: int = 1,
             keep_per_fixation: bool = False, probabilistic: bool = False,
             blur: Any = None, sauc_baseline: str = "centre") -> EvaluationResult:
    """Score predictions for the stimuli of a shard set.

    predict: a callable GroundTruth → (H, W) map, or a mapping stimulus → (H, W) map.
    log_density: the predictions are log-densities (IG uses them directly, other metrics use exp).
    resize: resize predictions to the stimulus (default: only under the ``mit`` convention).
    baseline: GroundTruth → (H, W) baseline density for IG (default: the centre-bias Gaussian fitted to the
    fixations of the images NOT scored, all images when every one is scored —
    :func:`saliency.metrics.centre_bias.centre_fit_stimuli`, the one rule of evaluate, baselines and pipeline —
    built once per image size).
    probabilistic: the predictions are log-densities of a probabilistic model and each metric is scored on
    its metric-specific map (:mod:`saliency.metrics.probabilistic`): density (AUC, NSS), density ÷ the
    centre-bias density (sAUC), log-density (IG, LL), expected empirical saliency map (CC, KL, SIM, EMD).
    Implies ``log_density``; ``summary["maps"]`` names the map of each metric.
    sauc_baseline: the nonfixation density of the probabilistic sAUC map: ``centre`` (default, the fitted
    centre bias) or ``model`` (the benchmark's: the model's average density over the other scored images,
    :mod:`saliency.metrics.shuffled_baseline`; one extra pass over the predictions).
    blur: the ground truth's blur for the expected empirical saliency map (a σ in pixels, response matrices
    or a callable, :data:`saliency.metrics.probabilistic.Blur`; default: the shards' own blur,
    :class:`saliency.maps.shard_blur.ShardBlur`).
    stimuli: score only these (default: all of ``shards.stimuli``); sAUC negatives still come from all images.
    on_image: called with each stimulus name after it is scored (progress bars).
    workers: threads scoring images concurrently (the compiled kernels, file reads and zstd release the GIL);
    with a ``ShardSet`` and a mapping of predictions each worker reads its own images (batches of a few, in
    shard order; the uint16 ground truth scored as stored, :class:`~saliency.metrics.fused.QuantizedDensity`),
    otherwise predictions and ground truth are read in order on the calling thread; results are recorded in
    order either way.
    Under the ``mit`` convention with a random metric (AUC-Judd jitter, AUC-Borji, sAUC) images are scored
    one after the other: each metric's random stream runs on across images in order.
    keep_per_fixation: also return every fixation's value of the fixation metrics (``per_fixation``).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from saliency.compiled import start_numba

    conv = get_convention(convention)
    ms = build_metrics(metrics, conv, resize=resize, seed=seed)
    # numba starts here, before the worker threads (each would start it on its first compiled call); meanwhile
    # a helper thread reads the fixation table (Parquet decoding releases the GIL; numba's start holds it)
    with ThreadPoolExecutor(1) as early:
        fixations = early.submit(lambda: shards.fixations.data)
        start_numba()
        frame = fixations.result()
    names = list(shards.stimuli) if stimuli is None else list(stimuli)
    if isinstance(predict, Mapping):
        missing = [s for s in names if s not in predict]
        if missing:
            raise SchemaError(f"{len(missing)} stimuli have no prediction, e.g. {missing[:3]}")
    sizes = sizes_from_manifest(shards.manifest)
    pool = FixationPool.from_frame(frame, sizes) if _needs(ms, "needs_negatives") else None
    # mit: shuffled-AUC negatives from 10 random other images, drawn from the sAUC metric's running stream
    mit_sauc = next((m for m in ms if m.name == "sauc" and m.convention.name == "mit"), None)
    if any(m.random and m.convention.name == "mit" for m in ms):
        workers = 1       # one random stream across images: draws must happen in image order
    pys = conv.name == "pysaliency"
    base_maps: dict[tuple[int, int], np.ndarray] = {}
    base_logs: dict[tuple[int, int], np.ndarray] = {}
    centre = None
    if probabilistic:
        log_density = True
    needs_centre = _needs(ms, "needs_baseline") or (probabilistic and any(m.name == "sauc" for m in ms))
    if needs_centre and (baseline is None or probabilistic):
        from saliency.metrics.centre_bias import centre_fit_stimuli, fit_centre_gaussian

        fit_names = centre_fit_stimuli(list(shards.stimuli), names)
        centre = fit_centre_gaussian(frame, sizes, fit_names)
    _check_sauc_baseline(sauc_baseline)
    others = (model_average_baseline(predict, shards, names)
              if probabilistic and sauc_baseline == "model" and any(m.name == "sauc" for m in ms) else None)
    prob = _ProbabilisticMaps(ms, shards, centre, blur, others) if probabilistic else None

    def inputs(stimulus: str, shape: tuple[int, int], x: np.ndarray, y: np.ndarray, density: Any,
               gt: Any = None) -> dict[str, Any]:
        from saliency.metrics.fixation import fixation_indices, to_density

        kw: dict[str, Any] = {"x_px": x, "y_px": y, "density": density, "shape": shape,
                              "log_density": log_density}
        if pool is not None and mit_sauc is not None:
            kw["neg_idx"] = pool.mit_negative_indices(stimulus, shape, mit_sauc.rng)
        elif pool is not None:
            kw["neg_idx"], kw["neg_exclude"] = pool.negative_split(stimulus, shape)
        if _needs(ms, "needs_baseline"):
            if baseline is not None:
                kw["baseline"] = np.asarray(baseline(gt if gt is not None else shards.load(stimulus)))
            elif pys:
                if shape not in base_logs:
                    base_logs[shape] = np.log(to_density(centre.density(*shape))).ravel()
                kw["fix_idx"] = fixation_indices(x, y, shape)
                kw["baseline_log"] = base_logs[shape][kw["fix_idx"]] if x.size else None
            else:
                if shape not in base_maps:
                    base_maps[shape] = centre.density(*shape)
                kw["baseline"] = base_maps[shape]
        return kw

    rows: list[dict[str, Any]] = []
    per_fix: list[tuple[str, int, dict[str, np.ndarray]]] = []   # framed once at the end (no pandas per image)

    def record(stimulus: str, n_fix: int, results: dict[str, Result]) -> None:
        row = {"stimulus": stimulus, "n_fixations": n_fix}
        row.update(record_results(ms, results))
        rows.append(row)
        if keep_per_fixation and n_fix:
            per_fix.append((stimulus, n_fix, {k: r[1] for k, r in results.items()
                                              if r is not None and r[1] is not None}))
        if on_image is not None:
            on_image(stimulus)

    from saliency.metrics.fused import QuantizedDensity, Workspace
    from saliency.shards.reader import ShardSet

    # a ShardSet with map predictions: each image read where it is scored (worker threads), fixations by row
    direct = isinstance(shards, ShardSet) and isinstance(predict, Mapping)
    pair_fused = prob is None and pys and any(m.name in ("cc", "kl", "sim") for m in ms)
    if direct:
        fix_rows = pool._rows if pool is not None else rows_by_stimulus(frame["stimulus"].astype(str).to_numpy())
        fix_x, fix_y = frame["x"].to_numpy(np.float64), frame["y"].to_numpy(np.float64)
    local = threading.local()

    def work(smap: np.ndarray, kw: dict[str, Any], stimulus: str = "") -> dict[str, Result]:
        if not hasattr(local, "ws"):
            local.ws = Workspace()
        smap, stats = checked_map(stimulus, smap, log_density)
        try:
            if prob is not None:
                results = prob.results(smap.astype(np.float64, copy=False), kw, stimulus, local.ws)
            else:
                results = image_results(ms, smap, workspace=local.ws, map_stats=stats, **kw)
        except SaliencyError as exc:
            raise type(exc)(f"prediction for stimulus {stimulus!r}: {exc}") from exc
        except (ValueError, IndexError, FloatingPointError) as exc:
            raise SchemaError(f"prediction for stimulus {stimulus!r} (shape {smap.shape}) cannot be scored: "
                              f"{exc}") from exc
        check_finite_results(stimulus, smap, results)
        return results

    def counted(n_fix: int, smap: np.ndarray, kw: dict[str, Any], stimulus: str) -> tuple[int, dict[str, Result]]:
        return n_fix, work(smap, kw, stimulus)

    def job(stimulus: str) -> tuple[int, dict[str, Result]]:
        """Read one image's ground truth and prediction and score it (a worker thread, ``direct`` only)."""
        rows = fix_rows.get(stimulus, _NO_ROWS)
        density = QuantizedDensity(*shards.density_parts(stimulus))
        kw = inputs(stimulus, sizes[stimulus], fix_x[rows], fix_y[rows], density)
        if pair_fused and density.q.dtype == np.uint16:
            kw["density_stats"] = density.stats()    # while the decoded map is still in cache
        return int(rows.size), work(predict[stimulus], kw, stimulus)

    with threadpool_limits(1), ThreadPoolExecutor(max(1, workers)) as ex:
        pending: list[tuple[str, Any]] = []
        if direct:   # each worker reads its own images (shards read concurrently, no per-image pandas)
            order = shards.read_order(names)
            if workers <= 1:
                for st in order:
                    record(st, *job(st))
            # a few images per task: one hand-over between threads (a notified future) per batch, not per image
            for b in range(0, len(order) if workers > 1 else 0, _BATCH):
                batch = order[b:b + _BATCH]
                pending.append((batch, ex.submit(lambda sts: [job(st) for st in sts], batch)))
                while len(pending) > 2 * workers:
                    sts, fut = pending.pop(0)
                    for st0, res in zip(sts, fut.result(), strict=True):
                        record(st0, *res)
            for sts, fut in pending:
                for st0, res in zip(sts, fut.result(), strict=True):
                    record(st0, *res)
            pending = []
        else:
            for gt in shards.iter_ground_truth(names):
                smap = predict[gt.stimulus] if isinstance(predict, Mapping) else predict(gt)
                fx = gt.fixations
                kw = inputs(gt.stimulus, (int(gt.height), int(gt.width)), fx["x"].to_numpy(np.float64),
                            fx["y"].to_numpy(np.float64), np.asarray(gt.density), gt)
                n_fix = int(kw["x_px"].size)
                if workers <= 1:
                    record(gt.stimulus, n_fix, work(smap, kw, gt.stimulus))
                    continue
                pending.append((gt.stimulus, ex.submit(counted, n_fix, smap, kw, gt.stimulus)))
                while len(pending) > 2 * workers:
                    st0, fut = pending.pop(0)
                    record(st0, *fut.result())
        for st0, fut in pending:
            record(st0, *fut.result())
    per_image = pd.DataFrame(rows, columns=["stimulus", "n_fixations", *[m.name for m in ms]])
    extra: dict[str, Any] = {}
    if prob is not None:
        extra = {"probabilistic": True, "maps": prob.kinds, "sauc_baseline": sauc_baseline}
    if centre is not None:
        extra["centre_fit_stimuli"] = len(fit_names)
    summary, details = summarise(ms, per_image, conv.name, **extra)
    result = EvaluationResult(per_image, summary, details)
    if keep_per_fixation:
        cols = [m.name for m in ms if any(m.name in d for _, _, d in per_fix)]
        frame = {"stimulus": np.repeat([s for s, _, _ in per_fix], [n for _, n, _ in per_fix]),
                 "fixation": np.concatenate([np.arange(n) for _, n, _ in per_fix]) if per_fix else np.empty(0, int)}
        for c in cols:
            frame[c] = np.concatenate([d.get(c, np.full(n, np.nan)) for _, n, d in per_fix])
        result.per_fixation = pd.DataFrame(frame)
    return result
