"""Compiled (numba) single-pass kernels behind :func:`saliency.metrics.fused.score_pysaliency`.

Each kernel reads a map once and does what numpy needed a sort or several full-size temporaries for:

- :func:`rank_counts`: for sorted unique reference values ``U`` (the fixated values), how many of ``values``
  lie strictly between consecutive ``U`` and how many equal each ``U`` (a binary search per value). From
  these the exact rank AUC of every fixation follows without sorting the pixels (or the shuffled negatives):
  ``#{v < U_k} = Σ_{t ≤ k} between_t + Σ_{t < k} equal_t``.
- :func:`sum_min`: sum (blocked: partial sums of 1024 values, so the rounding error grows like a pairwise
  sum's, not a running sum's) and minimum.
- :func:`pair_stats`: centred sums of squares and cross products (NSS, CC) and, with both maps as densities,
  SIM's ``Σ min`` and KL's ``Σ g · log(g / (p + ε) + ε)`` in one pass; pixels where the ground truth is 0
  add exactly 0 to KL (as ``0 · log(…)`` does in numpy), so their logarithm is skipped.

Arithmetic per element is the same as the numpy formulas of :mod:`saliency.metrics.fused` (division, not
multiplication by a reciprocal); only the order of summation differs (relative differences ~1e-15).
"""

from __future__ import annotations

import numba
import numpy as np

_BLOCK = 1024


@numba.njit(cache=True, nogil=True)
def sum_min(x: np.ndarray) -> tuple[float, float]:  # pragma: no cover - compiled
    """(sum, minimum) of a flat float array in float64; non-finite values make the sum non-finite."""
    total, part, mn = 0.0, 0.0, np.inf
    for i in range(x.size):
        v = np.float64(x[i])
        part += v
        if v < mn:
            mn = v
        if (i + 1) % _BLOCK == 0:
            total += part
            part = 0.0
    return total + part, mn


@numba.njit(cache=True, nogil=True)
def rank_counts(values: np.ndarray, unique_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """(between (m+1,), equal (m,)) counts of ``values`` against ``unique_sorted`` (see module docstring)."""
    m = unique_sorted.size
    between = np.zeros(m + 1, np.int64)
    equal = np.zeros(m, np.int64)
    first = unique_sorted[0]
    for i in range(values.size):
        v = values[i]
        if v < first:
            between[0] += 1
            continue
        lo, hi = 0, m
        while lo < hi:
            mid = (lo + hi) >> 1
            if unique_sorted[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        if lo < m and unique_sorted[lo] == v:
            equal[lo] += 1
        else:
            between[lo] += 1
    return between, equal


def rank_auc(values: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Per-positive rank AUC against every entry of ``values``: (#{v < p} + ½ #{v = p}) / #values, exactly
    (same result as sorting ``values`` and two ``searchsorted``; ``positives`` in the dtype of ``values``)."""
    u, inverse = np.unique(positives, return_inverse=True)
    between, equal = rank_counts(values, u)
    less = np.cumsum(between[:-1]) + np.concatenate(([0], np.cumsum(equal)[:-1]))
    lo = less[inverse]
    hi = lo + equal[inverse]
    return (lo + 0.5 * (hi - lo)) / values.size


@numba.njit(cache=True, nogil=True)
def pair_stats(p: np.ndarray, p_mean: float, p_shift: float, p_total: float, g: np.ndarray, g_mean: float,
               g_shift: float, g_total: float, want_pair: bool, eps: float) -> tuple[float, float, float, float, float]:  # pragma: no cover
    """(Σ(p−p̄)², Σ(g−ḡ)², Σ(p−p̄)(g−ḡ), Σ min(pd, gd), Σ gd·log(gd/(pd+ε)+ε)) with ``pd = (p − p_shift) /
    p_total`` (``1/n`` everywhere if ``p_total`` is 0), likewise gd. Without ``want_pair`` (no ground truth)
    only the first sum is computed and ``g`` is not read."""
    n = p.size
    ssp = ssg = cross = sim = kl = 0.0
    bp = bg = bc = bs = bk = 0.0
    inv_n = 1.0 / n
    for i in range(n):
        pv = np.float64(p[i])
        dp = pv - p_mean
        bp += dp * dp
        if want_pair:
            gv = np.float64(g[i])
            dg = gv - g_mean
            bg += dg * dg
            bc += dp * dg
            pd = (pv - p_shift) / p_total if p_total != 0.0 else inv_n
            gd = (gv - g_shift) / g_total if g_total != 0.0 else inv_n
            bs += pd if pd < gd else gd
            if gd != 0.0:
                bk += gd * np.log(gd / (pd + eps) + eps)
        if (i + 1) % _BLOCK == 0:
            ssp += bp
            ssg += bg
            cross += bc
            sim += bs
            kl += bk
            bp = bg = bc = bs = bk = 0.0
    return ssp + bp, ssg + bg, cross + bc, sim + bs, kl + bk
