"""Compiled (numba) pass behind the shared observer maps of :mod:`saliency.baselines.observers`.

Every observer's own blurred map ``M_k`` is made once; their sum ``T`` (added in observer order) and the
number of observers whose map is positive at each pixel (``count``) are kept (:func:`accumulate`). The map
of all observers but ``k`` is then ``T − M_k`` (formed inside :func:`saliency.metrics.jit.map_pass`)
instead of a blur of the other observers' fixations. With non-negative blur kernels this keeps the zeros exactly: where no other observer contributes, ``T`` was formed
by adding exact zeros to ``M_k``, so ``T − M_k`` is exactly 0, as the direct blur is; and ``T ≥ M_k`` holds
in floating point (rounding is monotone), so it is never negative. Where another observer does contribute
but its part was absorbed in rounding (``T − M_k == 0`` with ``count − [M_k > 0] > 0``), the pass
reports it and the caller blurs directly. Elsewhere values differ from the direct blur by rounding only.

:func:`accumulate` works in blocks of 1024 pixels: ``T`` and ``count`` are updated element by element (IEEE
order), then the block's sum is reduced with re-association allowed (vectorised; sums differ from numpy's by
rounding, relative ≈ 1e-16).
"""

from __future__ import annotations

import numba
import numpy as np

_BLOCK = 1024


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum(a: np.ndarray, start: int, stop: int) -> float:  # pragma: no cover - compiled
    s = 0.0
    for i in range(start, stop):
        s += a[i]
    return s


@numba.njit(cache=True, nogil=True)
def accumulate(total: np.ndarray, count: np.ndarray, m: np.ndarray) -> float:  # pragma: no cover - compiled
    """``total += m`` and ``count += (m > 0)``, element by element (flat arrays); returns Σ m."""
    s = 0.0
    for start in range(0, m.size, _BLOCK):
        stop = min(start + _BLOCK, m.size)
        for i in range(start, stop):
            v = m[i]
            total[i] += v
            count[i] += np.int32(v > 0.0)
        s += _sum(m, start, stop)
    return s


@numba.njit(cache=True, nogil=True)
def em_responsibility_sums(c: np.ndarray, w: np.ndarray, mix: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Σ_i c[i, j] · (w[j] / mix[i]) per column j, added row after row: the bits of numpy's
    ``(c * (w / mix[:, None])).sum(axis=0)`` (element-wise products, then a sequential reduction over
    axis 0 of the C-contiguous product), with no (N, K) temporaries. One EM step of
    :func:`saliency.baselines.mixture.fit_mixture_weights`. With three columns the products are formed a
    block at a time and each column's sum runs in a register."""
    n, k = c.shape
    out = np.zeros(k)
    if k != 3:
        for i in range(n):
            for j in range(k):
                out[j] += c[i, j] * (w[j] / mix[i])
        return out
    s0 = s1 = s2 = 0.0
    w0, w1, w2 = w[0], w[1], w[2]
    t0, t1, t2 = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for i in range(m):
            d = mix[start + i]
            t0[i] = c[start + i, 0] * (w0 / d)
            t1[i] = c[start + i, 1] * (w1 / d)
            t2[i] = c[start + i, 2] * (w2 / d)
        for i in range(m):
            s0 += t0[i]
            s1 += t1[i]
            s2 += t2[i]
    out[0], out[1], out[2] = s0, s1, s2
    return out
