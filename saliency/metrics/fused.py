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

import numpy as np

from saliency.errors import SchemaError
from saliency.metrics.conventions import PYSALIENCY_KL_EPS
from saliency.metrics.jit import pair_stats, rank_counts

__all__ = ["FUSED_METRICS", "Workspace", "log_density_at", "score_pysaliency"]

#: Metrics the fused path computes (the ``pysaliency`` convention; EMD and ``mit`` use the general path).
FUSED_METRICS = frozenset({"auc_judd", "auc_borji", "sauc", "nss", "ig", "cc", "kl", "sim"})
_LOG2 = math.log(2.0)


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
    total = flat.sum()
    mn = flat.min()
    if not (np.isfinite(total) and np.isfinite(mn)):
        raise _non_finite("baseline map")
    shift = mn if mn < 0 else 0.0
    total = total - shift * flat.size
    if not total:
        return np.full(idx.size, -np.log(flat.size))
    with np.errstate(divide="ignore"):
        return np.log((flat[idx] - shift) / total)


def score_pysaliency(saliency_map: np.ndarray, fix_idx: np.ndarray, metrics: frozenset[str] | set[str], *,
                     density: np.ndarray | None = None, neg_idx: np.ndarray | None = None,
                     baseline_log: np.ndarray | None = None, log_density: bool = False,
                     workspace: Workspace | None = None) -> dict[str, tuple[float, np.ndarray | None]]:
    """Score one image with the requested ``pysaliency``-convention metrics.

    saliency_map: (H, W) prediction (a log-density if ``log_density``: IG uses it as is, NSS/CC/KL/SIM use
    ``exp``, AUC/sAUC rank it as is). fix_idx: (N,) flat pixel indices of the fixations (validated, e.g.
    :func:`saliency.metrics.fixation.fixation_indices`; N may be 0: fixation metrics are then left out).
    density: (H, W) ground truth (CC, KL, SIM). neg_idx: flat indices of the shuffled negatives (sAUC).
    baseline_log: (N,) natural log of the baseline density at the fixations (IG; :func:`log_density_at`).
    workspace: buffers reused across calls (one per thread; a fresh one if None).
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
    if need_map:
        total, mn = float(np.add.reduce(src, dtype=f64)), float(src.min())
        if not np.isfinite(total) and not np.isfinite(src).all():
            raise _non_finite("saliency map")
    elif not np.isfinite(flat.sum()) and not np.isfinite(flat).all():
        raise _non_finite("saliency map")

    if has_fix and metrics & {"auc_judd", "auc_borji", "sauc"}:
        pos = flat[fix_idx]
        if metrics & {"auc_judd", "auc_borji"}:
            v = _auc_all_pixels(flat, pos, ws)
            for k in ("auc_judd", "auc_borji"):
                if k in metrics:
                    out[k] = (float(v.mean()), v)
        if "sauc" in metrics:
            if neg_idx is None or len(neg_idx) == 0:
                raise SchemaError("sauc needs fixations of other images as negatives")
            neg_idx = np.asarray(neg_idx, dtype=np.int64)
            neg = np.take(flat, neg_idx, out=ws.get("negatives", neg_idx.size, flat.dtype))
            less, eq = rank_counts(neg, pos, ws)
            v = (less + 0.5 * eq) / neg.size
            out["sauc"] = (float(v.mean()), v)

    if not need_map:
        if has_fix and "ig" in metrics:       # log-density prediction: IG needs only the fixated values
            out["ig"] = _ig(flat[fix_idx].astype(f64), baseline_log)
        return out

    mean = total / n
    pair = bool(metrics & {"cc", "kl", "sim"})
    g, g_mean, g_shift, g_total = src, 0.0, 0.0, 1.0
    if pair:
        if density is None:
            raise SchemaError("cc, kl and sim need the ground-truth density")
        gm = _map(density, "ground-truth map")
        if gm.shape != m.shape:
            raise SchemaError(f"saliency map has shape {m.shape} but the ground truth is {gm.shape}; the "
                              "'pysaliency' convention does not resize implicitly (pass resize=True)")
        g = gm.ravel()
        g_sum, g_min = float(np.add.reduce(g, dtype=f64)), float(g.min())
        if not np.isfinite(g_sum) and not np.isfinite(g).all():
            raise _non_finite("ground-truth map")
        g_mean = g_sum / n
        g_shift, g_total = _density_scale(g, g_sum, g_min)
    p_shift, p_total = _density_scale(src, total, mn) if pair else (0.0, 1.0)
    ss, ssg, cross, sim, kl = pair_stats(src, mean, p_shift, p_total, g, g_mean, g_shift, g_total, pair,
                                         PYSALIENCY_KL_EPS, workspace=ws)

    if has_fix and "nss" in metrics:
        std = math.sqrt(ss / n)
        val = src[fix_idx].astype(f64) - mean
        val = val / std if std else val
        out["nss"] = (float(val.mean()), val)
    if has_fix and "ig" in metrics:
        if log_density:
            lp = flat[fix_idx].astype(f64)
        else:
            shift = mn if mn < 0 else 0.0
            tot = total - shift * n
            with np.errstate(divide="ignore"):
                lp = (np.log((src[fix_idx].astype(f64) - shift) / tot) if tot
                      else np.full(fix_idx.size, -np.log(n)))
        out["ig"] = _ig(lp, baseline_log)
    if "cc" in metrics:
        den = math.sqrt(ss * ssg)
        out["cc"] = (cross / den if den else 0.0, None)
    if "sim" in metrics:
        out["sim"] = (sim, None)
    if "kl" in metrics:
        out["kl"] = (kl, None)
    return out


def _auc_all_pixels(flat: np.ndarray, pos: np.ndarray, ws: Workspace) -> np.ndarray:
    """Rank AUC of each fixated value against every pixel (ties ½), exactly: integer rank counts of
    :func:`~saliency.metrics.jit.rank_counts`, then one division."""
    less, eq = rank_counts(flat, pos, ws)
    return (less + 0.5 * eq) / flat.size


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
