"""Every ``pysaliency``-convention metric of one image in one pass: the fast path of :func:`evaluate`.

The per-metric functions of :mod:`saliency.metrics.fixation` each validate, convert and normalise the map
again; here each map is read once and what several metrics share is computed once:

- the prediction in its own dtype (float32 ranks are exact): AUC of fixation i is
  ``(#{pixels < s_i} + ½ #{pixels = s_i}) / (H·W)`` from the exact rank counts of
  :func:`~saliency.metrics.jit.rank_counts` (one compiled bucketing pass, no sort of the map);
- the values at the shuffled negatives (other images' fixations) counted the same way: sAUC likewise;
- sum and minimum of each map, then one compiled pass for the
  centred sums of squares and cross products (NSS population std, CC), SIM and KL of the two densities
  ``to_density`` (:func:`~saliency.metrics.jit.pair_stats`); IG takes the log-density only at the fixations.

The values equal those of :mod:`saliency.metrics.fixation` up to the order of floating-point summation
(blocked sums instead of numpy's pairwise ones; relative differences of order 1e-15, tested to 1e-12). Finiteness
is checked through the sums and the sorted extremes (a NaN or infinity anywhere makes them non-finite), so
valid maps are not scanned an extra time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from saliency.errors import SchemaError
from saliency.metrics.conventions import PYSALIENCY_KL_EPS
from saliency.metrics.jit import (
    G_LEAVE_OUT,
    G_NONE,
    G_PLAIN,
    G_U16,
    LEAVE_OUT,
    LEAVE_OUT_MIX,
    OWN,
    OWN_MIX,
    PLAIN,
    RankBuckets,
    block_sum_u16,
    map_pass,
    sum_min,
    values_at,
)

__all__ = ["FUSED_METRICS", "MapSource", "QuantizedDensity", "Workspace", "finish_scores", "log_density_at",
           "score_pysaliency", "score_source"]

#: Metrics the fused path computes (the ``pysaliency`` convention; EMD and ``mit`` use the general path).
FUSED_METRICS = frozenset({"auc_judd", "auc_borji", "sauc", "nss", "ig", "cc", "kl", "sim"})
_LOG2 = math.log(2.0)
_EMPTY = np.empty(0)
_EMPTY_IDX = np.empty(0, np.int64)



class Workspace:
    """Reusable buffers for :func:`score_pysaliency`, one per thread.

    A fresh multi-megabyte array per intermediate and image is returned to the operating system when freed
    and page-faulted back in on the next image (glibc trims the heap); at 800×600 that doubled the time per
    image. Buffers grow to the largest image seen and are reused.
    """

    def __init__(self) -> None:
        self._bufs: dict[tuple[str, str], np.ndarray] = {}

    def get(self, name: str, n: int, dtype: np.dtype | type) -> np.ndarray:
        key = (name, np.dtype(dtype).str)
        buf = self._bufs.get(key)
        if buf is None or buf.size < n:
            buf = self._bufs[key] = np.empty(max(n, 1), dtype=dtype)
        return buf[:n]


@dataclass(frozen=True)
class QuantizedDensity:
    """A ground-truth density kept as a shard map stores it: the density is ``float32(float32(q) · factor)``
    pixel by pixel (``q``: the (H, W) stored map, ``factor``: float32; :meth:`saliency.shards.ShardSet.density_parts`).
    The pass reads a uint16 ``q`` directly (half the bytes of the float32 density, and no copy is made); other
    dtypes, and the metrics that need the density itself, get :meth:`array`."""

    q: np.ndarray
    factor: np.float32

    @property
    def shape(self) -> tuple[int, ...]:
        return self.q.shape

    def array(self) -> np.ndarray:
        """The (H, W) float32 density (bit-identical to ``ShardSet.density``)."""
        m = self.q.astype(np.float32)
        m *= self.factor
        return m

    def stats(self) -> tuple[float, float]:
        """(Σ, min) of the density as :func:`~saliency.metrics.jit.sum_min` gives them for :meth:`array` (the
        minimum as 0.0: only its sign is used and the values are ≥ 0)."""
        return block_sum_u16(np.ascontiguousarray(self.q).reshape(-1), self.factor), 0.0


def _pass_density(density: np.ndarray | QuantizedDensity) -> np.ndarray | QuantizedDensity:
    """The ground truth as the pass reads it: a quantised uint16 map as stored, any other dtype as its density."""
    if isinstance(density, QuantizedDensity) and density.q.dtype != np.uint16:
        return density.array()
    return density

def _map(a: np.ndarray, what: str) -> np.ndarray:
    m = np.asarray(a)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise SchemaError(f"{what} must be a 2-D (H, W) array, got shape {m.shape}")
    if m.dtype not in (np.float32, np.float64):
        m = m.astype(np.float64)
    return m


def _non_finite(what: str) -> SchemaError:
    return SchemaError(f"{what} contains NaN or infinite values")


def log_density_at(m: np.ndarray, idx: np.ndarray, *, log_density: bool = False) -> np.ndarray:
    """Natural log of ``to_density(m)`` at flat indices ``idx`` (or ``m`` itself if it is a log-density)."""
    flat = _map(m, "baseline map").ravel()
    if log_density:
        out = flat[idx].astype(np.float64)
        if not np.isfinite(flat.sum()) and not np.isfinite(flat).all():
            raise _non_finite("baseline map")
        return out
    flat = flat.astype(np.float64, copy=False)
    total, mn = sum_min(flat)              # as score_pysaliency sums a map: a model's IG against itself is 0
    if not (np.isfinite(total) and np.isfinite(mn)):
        raise _non_finite("baseline map")
    shift = mn if mn < 0 else 0.0
    total = total - shift * flat.size
    if not total:
        return np.full(idx.size, -np.log(flat.size))
    with np.errstate(divide="ignore"):
        return np.log((flat[idx] - shift) / total)


@dataclass
class MapSource:
    """A map for :func:`score_source`, read or produced in the pass (:func:`saliency.metrics.jit.map_pass`).

    ``kind`` PLAIN: the flat array ``a`` (float32/float64). The observer kinds (LEAVE_OUT, LEAVE_OUT_MIX,
    OWN, OWN_MIX) build the map from ``t`` (all observers' map), ``mk`` (one observer's), ``c`` (the mixture's
    centre part), ``s_src`` (the sum the observer map is divided by), ``w_obs`` and ``uniform`` (float64,
    flat); ``count``: observers with a positive map at each pixel (uint8 or int32), for the exactness check.
    """

    kind: int = PLAIN
    a: np.ndarray = field(default_factory=lambda: _EMPTY)
    t: np.ndarray = field(default_factory=lambda: _EMPTY)
    mk: np.ndarray = field(default_factory=lambda: _EMPTY)
    c: np.ndarray = field(default_factory=lambda: _EMPTY)
    count: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    s_src: float = 1.0
    w_obs: float = 1.0
    uniform: float = 0.0

    @property
    def size(self) -> int:
        return self.a.size if self.kind == PLAIN else self.t.size

    def at(self, idx: np.ndarray) -> np.ndarray:
        """float64 values at flat indices, exactly as the pass computes them."""
        return values_at(self.kind, idx, self.a, self.t, self.mk, self.c, self.count, self.s_src, self.w_obs,
                         self.uniform)


def score_pysaliency(saliency_map: np.ndarray, fix_idx: np.ndarray, metrics: frozenset[str] | set[str], *,
                     density: np.ndarray | QuantizedDensity | None = None, neg_idx: np.ndarray | None = None,
                     neg_exclude: np.ndarray | None = None,
                     baseline_log: np.ndarray | None = None, log_density: bool = False,
                     workspace: Workspace | None = None, map_stats: tuple[float, float] | None = None,
                     density_stats: tuple[float, float] | None = None
                     ) -> dict[str, tuple[float, np.ndarray | None]]:
    """Score one image with the requested ``pysaliency``-convention metrics.

    saliency_map: (H, W) prediction (a log-density if ``log_density``: IG uses it as is, NSS/CC/KL/SIM use
    ``exp``, AUC/sAUC rank it as is). fix_idx: (N,) flat pixel indices of the fixations (validated, e.g.
    :func:`saliency.metrics.fixation.fixation_indices`; N may be 0: fixation metrics are then left out).
    density: (H, W) ground truth (CC, KL, SIM; an array or a :class:`QuantizedDensity`). neg_idx: flat
    indices of the shuffled negatives (sAUC); neg_exclude: flat indices among them that do not count (the
    image's own fixations: their values' counts are subtracted instead of the array being copied without them).
    baseline_log: (N,) natural log of the baseline density at the fixations (IG; :func:`log_density_at`).
    workspace: buffers reused across calls (one per thread; a fresh one if None).
    map_stats, density_stats: (sum, min) of the float64 map / ground truth when the caller already has them
    (both finite; not for ``log_density``): the pass computing them is skipped. Only the sign of the minimum
    is used, so a map known to be non-negative may give 0.0.
    Returns metric → (image score, per-fixation values or None); AUC-Borji equals AUC-Judd here.
    """
    ws = workspace if workspace is not None else Workspace()
    unknown = set(metrics) - FUSED_METRICS
    if unknown:
        raise SchemaError(f"not computed by the fused path: {sorted(unknown)}")
    m = _map(saliency_map, "saliency map")
    flat = m.ravel()
    n = flat.size
    fix_idx = np.asarray(fix_idx, dtype=np.int64)
    has_fix = fix_idx.size > 0
    out: dict[str, tuple[float, np.ndarray | None]] = {}
    f64 = np.float64

    # the map as float64 arithmetic works on it: float32 inputs are converted element by element (exact)
    need_map = bool(metrics & {"nss", "cc", "kl", "sim"}) or (has_fix and "ig" in metrics and not log_density)
    if log_density and need_map:
        if not np.isfinite(flat.sum()) and not np.isfinite(flat).all():
            raise _non_finite("saliency map")
        src = np.exp(flat, out=ws.get("map", n, f64), dtype=f64)
    else:
        src = flat
    if need_map and map_stats is not None and not log_density:
        total, mn = float(map_stats[0]), float(map_stats[1])
    else:
        total, mn = sum_min(src)
        if not np.isfinite(total) and not np.isfinite(src).all():
            raise _non_finite("saliency map")

    g_stats = None
    if metrics & {"cc", "kl", "sim"}:
        if density is None:
            raise SchemaError("cc, kl and sim need the ground-truth density")
        density = _pass_density(density)
        quantised = isinstance(density, QuantizedDensity)
        gm = density if quantised else _map(density, "ground-truth map")
        if gm.shape != m.shape:
            raise SchemaError(f"saliency map has shape {m.shape} but the ground truth is {gm.shape}; the "
                              "'pysaliency' convention does not resize implicitly (pass resize=True)")
        if not quantised:
            density = gm.ravel()
        if density_stats is not None:
            g_stats = (float(density_stats[0]), float(density_stats[1]))
        elif quantised:
            g_stats = density.stats()            # finite: uint16 values times a finite factor
        else:
            g_stats = sum_min(density)
            if not np.isfinite(g_stats[0]) and not np.isfinite(density).all():
                raise _non_finite("ground-truth map")

    if log_density:      # ranks of the log-density itself, everything else of exp(map)
        rank_metrics = metrics & {"auc_judd", "auc_borji", "sauc"}
        if has_fix and rank_metrics:
            out.update(score_source(MapSource(a=flat), fix_idx, rank_metrics, total=0.0, mn=0.0,
                                    neg_idx=neg_idx, neg_exclude=neg_exclude, workspace=ws)[0])
        if has_fix and "ig" in metrics:
            out["ig"] = _ig(flat[fix_idx].astype(f64), baseline_log)
        rest = metrics & {"nss", "cc", "kl", "sim"}
        if rest:
            out.update(score_source(MapSource(a=src), fix_idx, rest, total=total, mn=mn, density=density,
                                    density_stats=g_stats, workspace=ws)[0])
        return out
    return score_source(MapSource(a=flat), fix_idx, metrics, total=total, mn=mn, density=density,
                        density_stats=g_stats, neg_idx=neg_idx, neg_exclude=neg_exclude, baseline_log=baseline_log,
                        workspace=ws)[0]


def score_source(source: MapSource, fix_idx: np.ndarray, metrics: frozenset[str] | set[str], *, total: float,
                 mn: float, density: np.ndarray | QuantizedDensity | None = None, density_stats: tuple[float, float] | None = None,
                 leave_out_density: bool = False, neg_idx: np.ndarray | None = None,
                 neg_exclude: np.ndarray | None = None,
                 baseline_log: np.ndarray | None = None,
                 workspace: Workspace | None = None) -> tuple[dict[str, tuple[float, np.ndarray | None]], bool]:
    """The ``pysaliency`` metrics of one map in one :func:`~saliency.metrics.jit.map_pass`; returns (metric →
    (image score, per-fixation values or None), exact).

    source: the map; total, mn: its sum and minimum (only the sign of ``mn`` is used; validated finite by
    the caller). density (flat, or a :class:`QuantizedDensity`) and density_stats (sum, min): the ground
    truth of CC/KL/SIM, or ``leave_out_density``: the source's ``T − M`` is the ground truth (``density_stats`` its sum and 0).
    exact: False when a leave-out map lost another observer's contribution to rounding (the caller must
    build that map directly; the scores are then not to be used).
    """
    ws = workspace if workspace is not None else Workspace()
    n = source.size
    _check_source(source, leave_out_density and bool(metrics & {"cc", "kl", "sim"}))
    fix_idx = np.asarray(fix_idx, dtype=np.int64)
    has_fix = fix_idx.size > 0
    if has_fix and (fix_idx.min() < 0 or fix_idx.max() >= n):
        raise SchemaError(f"fixation indices outside the map ({fix_idx.min()}, {fix_idx.max()} of {n} pixels)")
    pos = source.at(fix_idx) if has_fix else _EMPTY
    rank_all = has_fix and bool(metrics & {"auc_judd", "auc_borji"})
    want_sauc = has_fix and "sauc" in metrics
    neg = _EMPTY_IDX
    if want_sauc:
        if neg_idx is None or len(neg_idx) == 0:
            raise SchemaError("sauc needs fixations of other images as negatives")
        neg = np.ascontiguousarray(neg_idx, dtype=np.int64)
        excl = _EMPTY_IDX if neg_exclude is None else np.asarray(neg_exclude, dtype=np.int64)
        if excl.size >= neg.size:
            raise SchemaError("sauc needs fixations of other images as negatives")
        if excl.size and (excl.min() < 0 or excl.max() >= n):
            raise SchemaError("excluded negatives index pixels outside the map")
    few, few_less, few_eq = _EMPTY, _EMPTY_IDX, _EMPTY_IDX
    if rank_all or want_sauc:
        rb = RankBuckets(pos, ws, neg)          # the negatives' order checked in the same compiled call
        if not rb.negatives_sorted:
            neg = np.sort(neg)
        if want_sauc and (neg[0] < 0 or neg[-1] >= n):
            raise SchemaError(f"shuffled negatives index pixels outside the map ({neg[0]}, {neg[-1]} of {n})")
        few = rb.few if rank_all else _EMPTY
        few_less, few_eq = rb.few_counts()
        hist_all, buf_all = rb.buffers("all", n if rank_all and not few.size else 0, lanes=4)
        hist_neg, buf_neg = rb.buffers("neg", neg.size)
        klo, shift, marks = rb.klo, rb.shift, rb.marks
    else:
        hist_all = hist_neg = np.zeros(1, np.int64)
        buf_all = buf_neg = np.empty(1, np.uint64)
        klo, shift, marks = np.uint64(0), np.uint64(0), np.zeros(1, np.bool_)
    pair = bool(metrics & {"cc", "kl", "sim"})
    need_stats = pair or bool(metrics & {"nss"})
    g_kind, g, g_mean, g_shift, g_total, g_factor = G_NONE, _EMPTY, 0.0, 0.0, 1.0, np.float32(1.0)
    if pair:
        if leave_out_density:
            g_kind = G_LEAVE_OUT
            g_mean, g_total = density_stats[0] / n, density_stats[0]
        else:
            if density is None:
                raise SchemaError("cc, kl and sim need the ground-truth density")
            g_mean = density_stats[0] / n
            density = _pass_density(density)
            if isinstance(density, QuantizedDensity):   # values ≥ 0: to_density divides by the sum
                g_kind, g, g_factor = G_U16, np.ascontiguousarray(density.q).reshape(-1), density.factor
                g_shift, g_total = 0.0, float(density_stats[0])
            else:
                g_kind, g = G_PLAIN, np.ascontiguousarray(density).ravel()
                g_shift, g_total = _density_scale(g, *density_stats)
    p_shift, p_total = _density_scale(source.a, total, mn) if pair else (0.0, 1.0)
    mean = total / n
    ss, ssg, cross, sim, kl, below_all, k_all, below_neg, k_neg, lost = map_pass(
        source.kind, source.a, source.t, source.mk, source.c, source.count, source.s_src, source.w_obs,
        source.uniform, g_kind, g, mean, p_shift, p_total, g_mean, g_shift, g_total, pair, PYSALIENCY_KL_EPS,
        rank_all, neg, klo, shift, marks, hist_all, buf_all, hist_neg, buf_neg, few, few_less, few_eq, need_stats,
        g_factor)
    auc = sauc = None
    n_neg = neg.size
    if rank_all:
        auc = (rb.finish_few(few_less, few_eq) if few.size else rb.finish(below_all, hist_all, buf_all, k_all))
    if want_sauc:
        # the excluded negatives' own counts are subtracted, from their values (exact integers)
        sauc = rb.finish(below_neg, hist_neg, buf_neg, k_neg, source.at(excl) if excl.size else _EMPTY)
        n_neg = neg.size - excl.size
    out = finish_scores(metrics, n, pos, total, mn, (ss, ssg, cross, sim, kl), auc, sauc, n_neg, baseline_log)
    return out, not lost


def finish_scores(metrics: frozenset[str] | set[str], n: int, pos: np.ndarray, total: float, mn: float,
                  sums: tuple[float, float, float, float, float], auc: tuple[np.ndarray, np.ndarray] | None,
                  sauc: tuple[np.ndarray, np.ndarray] | None, n_neg: int,
                  baseline_log: np.ndarray | None) -> dict[str, tuple[float, np.ndarray | None]]:
    """The scores of one map of ``n`` pixels from what a pass gathered: ``pos`` (its values at the fixations),
    ``total`` / ``mn`` (its sum and minimum), ``sums`` (Σ(p−p̄)², Σ(g−ḡ)², Σ(p−p̄)(g−ḡ), Σ min, KL sum),
    ``auc`` / ``sauc``: (#{values < p}, #{values = p}) per fixation among all pixels / the ``n_neg`` negatives
    (None: not computed)."""
    ss, ssg, cross, sim, kl = sums
    has_fix = pos.size > 0
    mean = total / n
    out: dict[str, tuple[float, np.ndarray | None]] = {}
    if auc is not None:
        v = (auc[0] + 0.5 * auc[1]) / n
        for k in ("auc_judd", "auc_borji"):
            if k in metrics:
                out[k] = (float(v.mean()), v)
    if sauc is not None:
        v = (sauc[0] + 0.5 * sauc[1]) / n_neg
        out["sauc"] = (float(v.mean()), v)
    if has_fix and "nss" in metrics:
        std = math.sqrt(ss / n)
        val = pos - mean
        with np.errstate(invalid="ignore", over="ignore"):     # an overflowing map: caught as a non-finite score
            val = val / std if std else val
        out["nss"] = (float(val.mean()), val)
    if has_fix and "ig" in metrics:
        shift_ = mn if mn < 0 else 0.0
        tot = total - shift_ * n
        with np.errstate(divide="ignore"):
            lp = np.log((pos - shift_) / tot) if tot else np.full(pos.size, -np.log(n))
        out["ig"] = _ig(lp, baseline_log)
    if "cc" in metrics:
        den = math.sqrt(ss * ssg)
        out["cc"] = (cross / den if den else 0.0, None)
    if "sim" in metrics:
        out["sim"] = (sim, None)
    if "kl" in metrics:
        out["kl"] = (kl, None)
    return out


def _check_source(source: MapSource, leave_out_density: bool) -> None:
    """The compiled pass does not check bounds: every array a kind reads must cover the map."""
    n = source.size
    need = {PLAIN: ("a",), LEAVE_OUT: ("t", "mk", "count"), LEAVE_OUT_MIX: ("t", "mk", "c", "count"),
            OWN: ("mk",), OWN_MIX: ("mk", "c")}.get(source.kind)
    if need is None:
        raise SchemaError(f"unknown map kind {source.kind}")
    if leave_out_density:
        need = (*need, "t", "mk", "count")
    short = [k for k in need if getattr(source, k).size != n]
    if short:
        raise SchemaError(f"map kind {source.kind}: {short} do not have the map's {n} pixels")


def _density_scale(v: np.ndarray, total: float, mn: float) -> tuple[float, float]:
    """(shift, divisor) of ``to_density``: ``(v − shift) / divisor``; divisor 0 means uniform ``1/n``.
    The sum of a shifted map is taken as numpy takes it (of the shifted values), not ``total − n·shift``."""
    if mn < 0:
        return mn, float(np.subtract(v, mn, dtype=np.float64).sum())
    return 0.0, total


def _ig(lp: np.ndarray, baseline_log: np.ndarray | None) -> tuple[float, np.ndarray]:
    if baseline_log is None:
        raise SchemaError("ig needs the baseline's log-density at the fixations")
    val = (lp - np.asarray(baseline_log, dtype=np.float64)) / _LOG2
    return float(val.mean()), val
