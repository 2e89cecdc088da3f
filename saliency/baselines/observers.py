"""Observer baselines (``gold_standard``, ``one_human``): each observer set's map scored image by image and
pooled per image. See :mod:`saliency.baselines` for what is scored against what."""

from __future__ import annotations

import numpy as np

from saliency.maps.fusion import observer_splits
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.evaluation import image_results
from saliency.metrics.fixation import fixation_indices
from saliency.metrics.fused import Workspace

OBSERVER_BASELINES = ("gold_standard", "one_human")


class ObserverPool:
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


def observer_sets(obs: np.ndarray, mode: str):
    """:func:`saliency.maps.fusion.observer_splits` of ``mode``, observers with no source or no target left out."""
    for o, src, tgt in observer_splits(obs, leave_out=mode == "gold_standard"):
        if src.any() and tgt.any():
            yield o, src, tgt


def observer_baseline(gt, mode: str, ms_factory, blur: ShardBlur, density: np.ndarray, neg_idx: np.ndarray,
                      base_log: np.ndarray, mixture: tuple[np.ndarray, np.ndarray] | None,
                      ws: Workspace) -> tuple[dict[str, list[np.ndarray]], dict[str, list[float]]]:
    """Score every observer set of one image (``mode`` gold_standard or one_human).

    base_log: (H·W,) natural log of the IG baseline density. mixture: (weights (3,), ``w_c · C`` (H, W)) of
    the fitted mixture, or None for the bare maps. Returns per metric the per-fixation arrays and the map
    scores of every observer set (pooled per image by :class:`ObserverPool`).
    """
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
    for _, src, tgt in observer_sets(obs, mode):
        m = blur.blur(xi[src], yi[src], h, w, sw[src])
        total = m.sum()
        if total <= 0:
            continue
        if mixture is not None:   # w_o · (L / ΣL) + w_c · C + w_u / (H·W), in place, in this order
            weights, centre_part = mixture
            np.divide(m, total, out=m)
            np.multiply(m, weights[0], out=m)
            np.add(m, centre_part, out=m)
            np.add(m, weights[2] / (h * w), out=m)
        target = density
        if mode == "one_human":                # map metrics: one observer's map vs the others' map
            target = blur.blur(xi[tgt], yi[tgt], h, w, sw[tgt])
            if target.sum() <= 0:
                continue
            target /= target.sum()
        t = idx[tgt]
        res = image_results(ms, m, x_px=x[tgt], y_px=y[tgt], density=target, neg_idx=neg_idx,
                            baseline_log=base_log[t], shape=(h, w), workspace=ws)
        for name, r in res.items():
            if r is None:
                continue
            if r[1] is not None:
                per_fix[name].append(r[1])
            per_map[name].append(r[0])
    return per_fix, per_map
