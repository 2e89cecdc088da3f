"""Observer baselines (``gold_standard``, ``one_human``): each observer set's map scored image by image and
pooled per image. See :mod:`saliency.baselines` for what is scored against what."""

from __future__ import annotations

import numpy as np

from saliency.baselines.jit import observer_totals
from saliency.baselines.sweep import ImageMaps, mixture_parts, row_extents, sweep_mode
from saliency.maps.fusion import observer_splits
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.evaluation import image_results
from saliency.metrics.fixation import fixation_indices
from saliency.metrics.fused import FUSED_METRICS, MapSource, Workspace, score_source
from saliency.metrics.jit import block_sum

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


def shared_path_applies(ms, ry: np.ndarray, rx: np.ndarray) -> bool:
    """:func:`shared_observer_baselines` serves metrics of the fused ``pysaliency`` path with non-negative
    blur kernels (``ry``, ``rx``: the response matrices); anything else takes :func:`observer_baseline`."""
    return (all(m.convention.name == "pysaliency" and m.name in FUSED_METRICS for m in ms)
            and bool((ry >= 0).all()) and bool((rx >= 0).all()))


#: Largest rank-key buffer (float64-sized, one image's observers × pixels: the keys a sweep may keep for
#: each observer set) the shared path may hold per thread; bigger images / observer counts take
#: :func:`observer_baseline`.
MAX_SHARED_BYTES = 1 << 30


def shared_path_fits(gt) -> bool:
    """Whether one image's rank-key buffers fit :data:`MAX_SHARED_BYTES`."""
    n_obs = gt.fixations["observer"].nunique()
    return n_obs * gt.height * gt.width * 8 <= MAX_SHARED_BYTES


def shared_observer_baselines(gt, modes: tuple[str, ...], ms_factories: dict, blur: ShardBlur, density: np.ndarray,
                              density_stats: tuple[float, float], neg_idx: np.ndarray, base_log: np.ndarray,
                              mixtures: dict[str, tuple[np.ndarray, np.ndarray] | None],
                              ws: Workspace) -> dict[str, tuple[dict[str, list[np.ndarray]], dict[str, list[float]]]]:
    """Every observer baseline in ``modes`` of one image from shared observer maps; mode → what
    :func:`observer_baseline` returns, the same values up to rounding (see :mod:`saliency.baselines.jit`).

    Each observer's own map ``M_k`` (the ``one_human`` map, with the bits of the blur before) is made a row at
    a time when needed, never stored; the map of the others, ``T − M_k`` (the ``gold_standard`` map and the
    ``one_human`` ground truth), and the mixtures are formed pixel by pixel by the sweep
    (:func:`saliency.baselines.sweep.sweep_mode`: all observer sets of one mode in one pass). Sums
    the pass needs up front are taken from the parts (``Σ(T − M_k) = ΣT − ΣM_k``, a mixture's sum
    ``w_o + ΣC + H·W·u``): equal to the summed map up to rounding (relative ≈ 1e-16). Where rounding lost
    another observer's contribution to ``T − M_k`` the map is blurred directly. Only for
    :func:`shared_path_applies`. ms_factories: mode → fresh metrics; mixtures: mode → (weights, ``w_c · C``)
    or None (bare maps); density_stats: (sum, min) of ``density``.
    """
    fx = gt.fixations
    x = fx["x"].to_numpy(np.float64)
    y = fx["y"].to_numpy(np.float64)
    h, w = gt.height, gt.width
    n = h * w
    idx = fixation_indices(x, y, (h, w))
    xi, yi = idx % w, idx // w
    obs = fx["observer"].astype(str).to_numpy()
    sw = blur.source_weights(fx)
    splits = list(observer_splits(obs, leave_out=True))          # (observer, others, own), sorted
    total = ws.get("obs_total", n, np.float64)
    count = ws.get("obs_count", n, np.uint8 if len(splits) < 255 else np.int32)   # a byte a pixel when it can
    ry, rx = blur.matrices(h, w)
    order = np.concatenate([np.flatnonzero(mine) for _, _, mine in splits])      # fixations by set
    fptr = np.zeros(len(splits) + 1, np.int64)
    fptr[1:] = np.cumsum([int(mine.sum()) for _, _, mine in splits])
    first, last = row_extents(ry)
    cfirst, clast = row_extents(rx)
    # each set's rows of ShardBlur.blur's product (blur_deltas: matmul((ry[yi] · sw)ᵀ, rx[xi])), same bits
    im = ImageMaps(ry[yi[order]] * sw[order][:, None], np.ascontiguousarray(rx[xi[order]]), fptr,
                   first[yi[order]], last[yi[order]], cfirst[xi[order]], clast[xi[order]], [], total, 0.0, count, w)
    sums = observer_totals(im.a_resp, im.b_resp, fptr, im.lo, im.hi, im.clo, im.chi, total, count)
    im.sums = [float(v) for v in sums]
    s_total = 0.0
    for s_k in im.sums:
        s_total += s_k
    im.s_total = s_total
    im.set_of = np.full(idx.size, -1, np.int64)
    for k, (_, _, mine) in enumerate(splits):
        im.set_of[mine] = k
    im.yi, im.xi, im.ry, im.rx = yi, xi, ry, rx
    g = np.ascontiguousarray(density, dtype=np.float64).reshape(-1)
    out = {}
    direct = None
    for mode in modes:
        gold = mode == "gold_standard"
        ms = ms_factories[mode]()
        for m in ms:
            m.check_inputs(density=density, baseline=base_log, neg_x_px=neg_idx)
        names = frozenset(m.name for m in ms)
        mix = mixtures.get(mode)
        parts = None if mix is None else mixture_parts(*mix)     # (C part, w_o, u, the mixture's sum)
        sets = [(k, idx[mine if gold else others]) for k, (_, others, mine) in enumerate(splits)
                if others.any() and s_total - im.sums[k] > 0 and (gold or im.sums[k] > 0)]
        scored = sweep_mode(im, gold, sets, names, parts, g, density_stats, neg_idx, base_log, ws)
        per_fix: dict[str, list[np.ndarray]] = {name: [] for name in names}
        per_map: dict[str, list[float]] = {name: [] for name in names}
        for k, t_idx in sets:
            res = scored.get(k)
            if res is None:       # T − M_k lost another observer to rounding: that map blurred directly
                others = splits[k][1]
                if direct is None or direct[0] != k:
                    d = blur.blur(xi[others], yi[others], h, w, sw[others]).reshape(-1)
                    direct = (k, d, float(d.sum()))
                kw = {"neg_idx": neg_idx, "baseline_log": base_log[t_idx], "workspace": ws}
                kw.update(density=g, density_stats=density_stats) if gold else kw.update(
                    leave_out_density=True, density_stats=(s_total - im.sums[k], 0.0))
                mine = splits[k][2]
                mk = blur.blur(xi[mine], yi[mine], h, w, sw[mine]).reshape(-1)
                res = _score_direct(direct[1], direct[2], mk, im.sums[k], gold, parts, t_idx, names, kw, n)
            for name, r in res.items():
                if r[1] is not None:
                    per_fix[name].append(r[1])
                per_map[name].append(r[0])
        out[mode] = (per_fix, per_map)
    return out


def _score_direct(others: np.ndarray, s_others: float, mk: np.ndarray, s_k: float, gold: bool, parts, t_idx,
                  names, kw: dict, n: int) -> dict:
    """Score one observer set with the others' map given as an array (the exact fallback)."""
    m, s_m = (others, s_others) if gold else (mk, s_k)
    if parts is not None:
        c, w_obs, u = parts[:3]
        m = ((m / s_m) * w_obs + c) + u
        s_m = block_sum(m)
    if not gold:
        kw = {**kw, "leave_out_density": False, "density": others, "density_stats": (s_others, 0.0)}
    return score_source(MapSource(a=m), t_idx, names, total=s_m, mn=0.0, **kw)[0]
