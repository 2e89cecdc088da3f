"""All observer sets of one image and one mode scored in one compiled sweep
(:func:`saliency.baselines.jit.observer_sweep`), for :func:`saliency.baselines.observers.shared_observer_baselines`.

The per-set setup (values at the fixations, rank buckets) is done here, the pixel work in the sweep, and the
scores are finished by :func:`saliency.metrics.fused.finish_scores` exactly as
:func:`saliency.metrics.fused.score_source` finishes one map; so the values equal that path's up to the
order of the blocked sums (row by row instead of 1024-pixel blocks; SIM and KL skip pixels where the ground
truth is exactly 0, whose terms are exactly 0). Rank counts are the same integers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from saliency.baselines.jit import blur_at, log_ratio_terms, nonzero_runs, observer_sweep, support_runs
from saliency.metrics.conventions import PYSALIENCY_KL_EPS
from saliency.metrics.fused import Workspace, finish_scores
from saliency.metrics.jit import (
    FEW,
    RankBuckets,
    block_sum,
)

_EMPTY = np.empty(0)
#: Columns per piece of the SIM/KL runs (:func:`~saliency.baselines.jit.nonzero_runs`; the zero terms they
#: include are exactly 0).
RUN_CHUNK = 32


@dataclass
class ImageMaps:
    """One image's shared observer maps, kept as their factors: set ``k``'s own map ``M_k`` is
    ``Σ_j a_resp[j]ᵀ ⊗ b_resp[j]`` over its fixations ``fptr[k] … fptr[k + 1] − 1`` (row response times weight,
    column response; ``lo[j] … hi[j]``, ``clo[j] … chi[j]``: the rows / columns where they are non-zero),
    made a row at a time by
    :func:`saliency.baselines.jit.blur_row`; ``sums[k]`` = Σ M_k. ``t`` = Σ_k M_k (set order) with total
    ``s_total``; ``count``: observers whose map is positive at each pixel; ``width``: the image width.
    ``set_of``, ``yi``, ``xi``: each fixation's set (−1: none) and pixel in the image's order; ``ry`` / ``rx``:
    the blur's response matrices."""

    a_resp: np.ndarray
    b_resp: np.ndarray
    fptr: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    clo: np.ndarray
    chi: np.ndarray
    sums: list[float]
    t: np.ndarray
    s_total: float
    count: np.ndarray
    width: int
    set_of: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    yi: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    xi: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    ry: np.ndarray | None = None
    rx: np.ndarray | None = None

    @property
    def n_sets(self) -> int:
        return self.fptr.size - 1

    def own_at(self, k: int, idx: np.ndarray) -> np.ndarray:
        """``M_k`` at flat pixels ``idx`` (the values the sweep makes)."""
        return blur_at(self.a_resp, self.b_resp, self.lo, self.hi, self.fptr[k], self.fptr[k + 1], idx,
                       self.width)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`~saliency.baselines.jit.support_runs` of every set: rectangles spanned by the non-zero
        responses of its fixations' rows and columns."""
        y0, y1 = row_extents(self.ry)
        x0, x1 = row_extents(self.rx)
        return support_runs(self.t.size // self.width, self.set_of, y0[self.yi], y1[self.yi], x0[self.xi],
                            x1[self.xi], self.n_sets)


_CACHE: dict[tuple, tuple] = {}       # keyed by id() of an array kept alive in the value
_LOCK = threading.Lock()


def _cached(key: tuple, keep: np.ndarray, make):
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit[0] is keep:
        return hit[1]
    value = make()
    with _LOCK:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = (keep, value)
    return value


def row_extents(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) column of each row of a response matrix that is non-zero (first > last: none); cached
    per matrix."""
    def make():
        nz = r != 0
        first = np.where(nz.any(1), nz.argmax(1), r.shape[1])
        last = r.shape[1] - 1 - nz[:, ::-1].argmax(1)
        return first.astype(np.int64), np.where(nz.any(1), last, -1).astype(np.int64)
    return _cached(("extents", id(r)), r, make)


def mixture_parts(weights: np.ndarray, centre_part: np.ndarray) -> tuple:
    """The mixture ``w_o · (L / ΣL) + w_c · C + w_u / (H·W)`` of ``weights`` (3,) and ``centre_part``
    (``w_c · C``, (H, W)) as the sweep forms it, ``((L / ΣL) · w_o + C part) + u``: (flat C part, w_o, u, the
    mixture's sum ``w_o + ΣC + H·W·u``, ``C part + u`` (the mixture where L is 0), that sorted). Cached
    per centre-part array (one per image size and baseline)."""
    def make():
        c = np.ascontiguousarray(centre_part, dtype=np.float64).reshape(-1)
        u = weights[2] / c.size
        b = c + u
        return c, float(weights[0]), u, float(weights[0]) + block_sum(c) + c.size * u, b, np.sort(b)
    return _cached(("mixture", id(centre_part), weights.tobytes()), centre_part, make)


def sweep_mode(im: ImageMaps, gold: bool, sets: list[tuple[int, np.ndarray]], names: frozenset[str],
               parts: tuple | None, g: np.ndarray,
               g_stats: tuple[float, float], neg: np.ndarray, base_log: np.ndarray,
               ws: Workspace) -> dict[int, dict]:
    """Score the observer sets ``sets`` ((k, flat indices of the scored fixations)) of one mode.

    gold: map ``T − M_k`` scored against ``g`` (flat float64, ≥ 0, (sum, min) ``g_stats``); else map ``M_k``
    against ``T − M_k``. parts: the mixture (:func:`mixture_parts`) or None (bare maps). neg: ascending flat indices of the shuffled negatives. Returns ({k: metric → (score, per-fixation
    values or None)}, the sets whose ``T − M_k`` lost another observer to rounding: to be scored directly).
    """
    n = im.t.size
    n_all = im.n_sets
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
    c, w_obs, u = (parts[0], parts[1], parts[2]) if parts is not None else (_EMPTY, 1.0, 0.0)
    few_n = np.zeros(n_all, np.int64)
    few = np.zeros((n_all, FEW))
    setup: dict[int, tuple] = {}
    for k, t_idx in sets:
        s_others = im.s_total - im.sums[k]
        src = s_others if gold else im.sums[k]
        m_at, t_at = im.own_at(k, t_idx), im.t[t_idx]
        v = t_at - m_at if gold else m_at                   # the map at the fixations, as the sweep forms it
        pos = ((v / src) * w_obs + c[t_idx]) + u if parts is not None else v
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
    if gold:
        g_mean[:], g_inv[:] = g_stats[0] / n, 1.0 / g_stats[0]
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
    use_s = not gold and parts is not None and bool(bucketed)
    if use_s:
        s_ptr, s_runs = im.support()
        bmap, b_sorted = parts[4], parts[5]
        lt = ws.get("sweep_lt", n, np.float64)
        t_all, lt_all = log_ratio_terms(im.t, bmap, 1.0 / parts[3], PYSALIENCY_KL_EPS, lt)
    else:
        s_ptr, s_runs = np.zeros(1, np.int64), np.zeros((0, 2), np.int64)
        bmap = lt = b_sorted = _EMPTY
        t_all = lt_all = 0.0
    n_b = n_all if bucketed else 0
    n_s = n_all if use_s else 0
    hist_b = ws.get("sweep_hist_b", n_s * nb, np.int64).reshape(n_s, nb)
    hist_b[:] = 0
    buf_b = ws.get("sweep_buf_b", n_s * n if rank_all else 0, np.uint64).reshape(n_s if rank_all else 0, n)
    counts_b = np.zeros((n_all, 2), np.int64)
    sums_s = np.zeros((n_all, 2))
    hist_all = ws.get("sweep_hist_all", n_b * nb, np.int64).reshape(n_b, nb)
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
    runs_ptr, runs = nonzero_runs(g if gold else im.t, im.width, RUN_CHUNK) if want_pair else (
        np.zeros(n // im.width + 1, np.int64), np.zeros((0, 2), np.int64))
    ssg_gold = observer_sweep(gold, im.width, im.t, im.count, im.a_resp, im.b_resp, im.fptr, im.lo, im.hi,
                              im.clo, im.chi, active, s_src, parts is not None, c, w_obs,
                              u, g if gold else _EMPTY, p_mean, p_inv, g_mean, g_inv, PYSALIENCY_KL_EPS,
                              want_stats, want_pair, runs_ptr, runs, rank_all, neg if want_sauc else neg[:0], few_n,
                              few, few_less, few_eq, fneg_less, fneg_eq, klo, shift, nbs, marks, hist_all, buf_all,
                              hist_neg, buf_neg, sums, counts, lost, use_s, s_ptr, s_runs, bmap, lt, hist_b, buf_b,
                              counts_b, sums_s)
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
                auc = rb.finish(int(counts[k, 0]), hist_all[k, :m], buf_all[k], int(counts[k, 1]))
                if use_s:           # + ranks of the whole C + u − those of its support part
                    less_b, eq_b = rb.finish(int(counts_b[k, 0]), hist_b[k, :m], buf_b[k], int(counts_b[k, 1]))
                    lo_all = np.searchsorted(b_sorted, pos, "left")
                    eq_all = np.searchsorted(b_sorted, pos, "right") - lo_all
                    auc = (auc[0] + lo_all - less_b, auc[1] + eq_all - eq_b)
            if want_sauc:
                sauc = rb.finish(int(counts[k, 2]), hist_neg[k, :m], buf_neg[k], int(counts[k, 3]))
        s = sums[k]
        ssg = ssg_gold if gold else s[1]
        kl = s[4]
        if use_s and want_pair and not few_n[k]:   # outside the support: Σ a·T·(log a + log(T / (C + u + ε)))
            a = g_inv[k]
            kl += a * (np.log(a) * (t_all - sums_s[k, 0]) + (lt_all - sums_s[k, 1]))
        out[k] = finish_scores(names, n, pos, total, 0.0, (s[0], ssg, s[2], s[3], kl), auc, sauc, neg.size,
                               base_log[t_idx])
    return out
