"""All observer sets of one image and one mode scored in one compiled sweep
(:func:`saliency.baselines.jit.observer_sweep`), for :func:`saliency.baselines.observers.shared_observer_baselines`.

The per-set setup (values at the fixations, rank buckets) is done here, the pixel work in the sweep, and the
scores are finished by :func:`saliency.metrics.fused.finish_scores` exactly as
:func:`saliency.metrics.fused.score_source` finishes one map; so the values equal that path's up to the
order of the blocked sums (row by row instead of 1024-pixel blocks; SIM and KL skip pixels where the ground
truth is exactly 0, whose terms are exactly 0). Rank counts are the same integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saliency.baselines.jit import nonzero_runs, observer_sweep
from saliency.metrics.conventions import PYSALIENCY_KL_EPS
from saliency.metrics.fused import Workspace, finish_scores
from saliency.metrics.jit import FEW, LEAVE_OUT, LEAVE_OUT_MIX, OWN, OWN_MIX, RankBuckets, values_at

_EMPTY = np.empty(0)
#: Zero columns a SIM/KL run may bridge (cheaper than starting a new run; the bridged terms are exactly 0).
RUN_GAP = 32


@dataclass
class ImageMaps:
    """One image's shared observer maps: ``maps[k]`` is observer set ``k``'s own map ``M_k`` (flat, float64),
    ``sums[k]`` its sum; ``t`` = Σ_k M_k (observer order) with total ``s_total``; ``count``: observers whose
    map is positive at each pixel; ``width``: the image width."""

    maps: np.ndarray
    sums: list[float]
    t: np.ndarray
    s_total: float
    count: np.ndarray
    width: int


def sweep_mode(im: ImageMaps, gold: bool, sets: list[tuple[int, np.ndarray]], names: frozenset[str],
               parts: tuple[np.ndarray, float, float, float] | None, g: np.ndarray,
               g_stats: tuple[float, float], neg: np.ndarray, base_log: np.ndarray,
               ws: Workspace) -> dict[int, dict]:
    """Score the observer sets ``sets`` ((k, flat indices of the scored fixations)) of one mode.

    gold: map ``T − M_k`` scored against ``g`` (flat float64, ≥ 0, (sum, min) ``g_stats``); else map ``M_k``
    against ``T − M_k``. parts: the mixture (``C`` part, ``w_obs``, ``u``, the mixture's sum) or None (bare
    maps). neg: ascending flat indices of the shuffled negatives. Returns ({k: metric → (score, per-fixation
    values or None)}, the sets whose ``T − M_k`` lost another observer to rounding: to be scored directly).
    """
    n = im.t.size
    n_all = im.maps.shape[0]
    active = np.zeros(n_all, np.bool_)
    s_src = np.ones(n_all)
    g_mean = np.zeros(n_all)
    g_inv = np.ones(n_all)
    p_mean = np.zeros(n_all)
    p_inv = np.ones(n_all)
    rank_all = bool(names & {"auc_judd", "auc_borji"})
    want_sauc = "sauc" in names
    want_pair = bool(names & {"cc", "kl", "sim"})
    want_stats = want_pair or "nss" in names
    kind = (LEAVE_OUT if gold else OWN) if parts is None else (LEAVE_OUT_MIX if gold else OWN_MIX)
    c, w_obs, u = (parts[0], parts[1], parts[2]) if parts is not None else (_EMPTY, 1.0, 0.0)
    few_n = np.zeros(n_all, np.int64)
    few = np.zeros((n_all, FEW))
    setup: dict[int, tuple] = {}
    for k, t_idx in sets:
        s_others = im.s_total - im.sums[k]
        src = s_others if gold else im.sums[k]
        pos = values_at(kind, t_idx, _EMPTY, im.t, im.maps[k], c, im.count, src, w_obs, u)
        total = parts[3] if parts is not None else src
        active[k] = True
        s_src[k] = src
        p_mean[k], p_inv[k] = total / n, 1.0 / total
        if gold:
            g_mean[k], g_inv[k] = g_stats[0] / n, 1.0 / g_stats[0]
        else:
            g_mean[k], g_inv[k] = s_others / n, 1.0 / s_others
        rb = RankBuckets(pos) if (rank_all or want_sauc) and t_idx.size else None
        if rb is not None and rb.few.size:
            few_n[k] = rb.few.size
            few[k, :rb.few.size] = rb.few
        setup[k] = (pos, total, rb)
    g_mean[0] = g_stats[0] / n if gold else g_mean[0]
    bucketed = [k for k, (_, _, rb) in setup.items() if rb is not None and not few_n[k]]
    nb = max((setup[k][2].nb for k in bucketed), default=1)
    klo = np.zeros(n_all, np.uint64)
    shift = np.zeros(n_all, np.uint64)
    nbs = np.ones(n_all, np.int64)
    marks = np.zeros((n_all, nb), np.bool_)
    for k in bucketed:
        rb = setup[k][2]
        klo[k], shift[k], nbs[k] = rb.klo, rb.shift, rb.nb
        marks[k, :rb.nb] = rb.marks
    n_b = n_all if bucketed else 0
    hist_all = ws.get("sweep_hist_all", n_b * 4 * nb, np.int64).reshape(n_b, 4 * nb)
    hist_neg = ws.get("sweep_hist_neg", n_b * nb, np.int64).reshape(n_b, nb)
    hist_all[:] = 0
    hist_neg[:] = 0
    buf_all = ws.get("sweep_buf_all", n_b * n if rank_all else 0, np.uint64).reshape(n_b if rank_all else 0, n)
    buf_neg = ws.get("sweep_buf_neg", n_b * neg.size, np.uint64).reshape(n_b, neg.size)
    few_less = np.zeros((n_all, FEW), np.int64)
    few_eq = np.zeros((n_all, FEW), np.int64)
    fneg_less = np.zeros((n_all, FEW), np.int64)
    fneg_eq = np.zeros((n_all, FEW), np.int64)
    sums = np.zeros((n_all, 5))
    counts = np.zeros((n_all, 4), np.int64)
    lost = np.zeros(n_all, np.int32)
    runs_ptr, runs = nonzero_runs(g if gold else im.t, im.width, RUN_GAP) if want_pair else (
        np.zeros(n // im.width + 1, np.int64), np.zeros((0, 2), np.int64))
    ssg_gold = observer_sweep(gold, im.width, im.t, im.count, im.maps, active, s_src, parts is not None, c, w_obs,
                              u, g if gold else _EMPTY, p_mean, p_inv, g_mean, g_inv, PYSALIENCY_KL_EPS,
                              want_stats, want_pair, runs_ptr, runs, rank_all, neg if want_sauc else neg[:0], few_n,
                              few, few_less, few_eq, fneg_less, fneg_eq, klo, shift, nbs, marks, hist_all, buf_all,
                              hist_neg, buf_neg, sums, counts, lost)
    out: dict[int, dict] = {}
    for k, t_idx in sets:
        if lost[k]:
            continue
        pos, total, rb = setup[k]
        auc = sauc = None
        if rb is not None and few_n[k]:
            auc = rb.finish_few(few_less[k], few_eq[k]) if rank_all else None
            sauc = rb.finish_few(fneg_less[k], fneg_eq[k]) if want_sauc else None
        elif rb is not None:
            m = rb.nb
            if rank_all:
                auc = rb.finish(int(counts[k, 0]), hist_all[k, :4 * m],
                                buf_all[k], int(counts[k, 1]))
            if want_sauc:
                sauc = rb.finish(int(counts[k, 2]), hist_neg[k, :m], buf_neg[k], int(counts[k, 3]))
        s = sums[k]
        ssg = ssg_gold if gold else s[1]
        out[k] = finish_scores(names, n, pos, total, 0.0, (s[0], ssg, s[2], s[3], s[4]), auc, sauc, neg.size,
                               base_log[t_idx])
    return out
