"""Score predictions against ground-truth shards (contract 3): :func:`evaluate` → :class:`EvaluationResult`.

``shards`` is a ``saliency.shards.ShardSet`` (contract 2) or anything with the same members used here:
``stimuli``, ``manifest`` (columns stimulus, height, width), ``fixations`` (a FixationTable),
``iter_ground_truth(stimuli)`` yielding objects with ``stimulus``, ``height``, ``width``, ``density``,
``fixations`` (a DataFrame with columns x, y, observer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, SchemaError
from saliency.metrics.conventions import get_convention
from saliency.metrics.streaming import StreamingMetric, build_metrics


@dataclass
class EvaluationResult:
    """``per_image``: one row per stimulus (stimulus, n_fixations, one column per metric, NaN = skipped);
    ``summary``: metric → mean over images, ``<metric>_fixation_mean`` (pysaliency fixation metrics), counts,
    the convention; ``details``: each metric's full :meth:`StreamingMetric.compute` dict."""

    per_image: pd.DataFrame
    summary: dict[str, Any]
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

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
@dataclass(frozen=True)
class FixationPool:
    """All fixations of a dataset with their stimulus sizes, for shuffled-AUC negatives."""

    stimulus: np.ndarray      # (N,) str
    x_px: np.ndarray
    y_px: np.ndarray
    width_px: np.ndarray
    height_px: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, sizes: Mapping[str, tuple[int, int]]) -> FixationPool:
        """frame: columns stimulus, x, y; sizes: stimulus → (height, width)."""
        st = frame["stimulus"].astype(str).to_numpy()
        missing = sorted(set(st) - set(sizes))
        if missing:
            raise SchemaError(f"fixations refer to stimuli without a size: {missing[:5]}")
        h = np.array([sizes[s][0] for s in st], dtype=np.float64)
        w = np.array([sizes[s][1] for s in st], dtype=np.float64)
        return cls(st, frame["x"].to_numpy(np.float64), frame["y"].to_numpy(np.float64), w, h)

    def negatives_for(self, stimulus: str, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Fixations of every other stimulus rescaled to ``shape`` (pysaliency FullShuffledNonfixationProvider)."""
        from saliency.metrics.fixation import shuffled_negatives

        keep = self.stimulus != stimulus
        return shuffled_negatives(self.x_px[keep], self.y_px[keep], self.width_px[keep],
                                  self.height_px[keep], shape)


def sizes_from_manifest(manifest: pd.DataFrame) -> dict[str, tuple[int, int]]:
    return {str(s): (int(h), int(w)) for s, h, w in
            zip(manifest["stimulus"], manifest["height"], manifest["width"], strict=True)}


def score_image(metrics: Iterable[StreamingMetric], saliency_map: np.ndarray, *, x_px: np.ndarray,
                y_px: np.ndarray, density: np.ndarray | None, neg: tuple[np.ndarray, np.ndarray] | None,
                baseline: np.ndarray | None, log_density: bool = False) -> dict[str, float]:
    """Update every metric with one image; returns metric name → image score."""
    shape = density.shape if density is not None else None
    row: dict[str, float] = {}
    for m in metrics:
        row[m.name] = m.update(
            saliency_map, x_px=x_px, y_px=y_px, density=density,
            neg_x_px=neg[0] if (neg is not None and m.needs_negatives) else None,
            neg_y_px=neg[1] if (neg is not None and m.needs_negatives) else None,
            baseline=baseline if m.needs_baseline else None, shape=shape, log_density=log_density)
    return row


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


# ------------------------------------------------------------------------------------------------ evaluate
def evaluate(predict: Callable[[Any], np.ndarray] | Mapping[str, np.ndarray], shards: Any, *,
             metrics: list[str] | tuple[str, ...] | None = None, convention: str = "pysaliency",
             log_density: bool = False, resize: bool | None = None,
             baseline: Callable[[Any], np.ndarray] | None = None, stimuli: list[str] | None = None,
             seed: int | None = None, on_image: Callable[[str], None] | None = None) -> EvaluationResult:
    """Score predictions for the stimuli of a shard set.

    predict: a callable GroundTruth → (H, W) map, or a mapping stimulus → (H, W) map.
    log_density: the predictions are log-densities (IG uses them directly, other metrics use exp).
    resize: resize predictions to the stimulus (default: only under the ``mit`` convention).
    baseline: GroundTruth → (H, W) baseline density for IG (default: centre-bias Gaussian fitted to all
    fixations of the shard set, :func:`saliency.baselines.fit_centre_gaussian`).
    stimuli: score only these (default: all of ``shards.stimuli``); sAUC negatives still come from all images.
    on_image: called with each stimulus name after it is scored (progress bars).
    """
    conv = get_convention(convention)
    ms = build_metrics(metrics, conv, resize=resize, seed=seed)
    names = list(shards.stimuli) if stimuli is None else list(stimuli)
    if isinstance(predict, Mapping):
        missing = [s for s in names if s not in predict]
        if missing:
            raise SchemaError(f"{len(missing)} stimuli have no prediction, e.g. {missing[:3]}")
    sizes = sizes_from_manifest(shards.manifest)
    frame = shards.fixations.data
    pool = FixationPool.from_frame(frame, sizes) if _needs(ms, "needs_negatives") else None
    if baseline is None and _needs(ms, "needs_baseline"):
        from saliency.baselines.centre import fit_centre_gaussian

        centre = fit_centre_gaussian(frame, sizes)

        def baseline(gt):
            return centre.density(gt.height, gt.width)

    rows = []
    for gt in shards.iter_ground_truth(names):
        smap = predict[gt.stimulus] if isinstance(predict, Mapping) else predict(gt)
        fx = gt.fixations
        x = fx["x"].to_numpy(np.float64)
        y = fx["y"].to_numpy(np.float64)
        neg = pool.negatives_for(gt.stimulus, (gt.height, gt.width)) if pool is not None else None
        base = baseline(gt) if baseline is not None and _needs(ms, "needs_baseline") else None
        row = {"stimulus": gt.stimulus, "n_fixations": int(x.size)}
        row.update(score_image(ms, np.asarray(smap), x_px=x, y_px=y, density=np.asarray(gt.density),
                               neg=neg, baseline=base, log_density=log_density))
        rows.append(row)
        if on_image is not None:
            on_image(gt.stimulus)
    per_image = pd.DataFrame(rows, columns=["stimulus", "n_fixations", *[m.name for m in ms]])
    summary, details = summarise(ms, per_image, conv.name)
    return EvaluationResult(per_image, summary, details)
