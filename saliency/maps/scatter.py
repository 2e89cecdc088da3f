"""Blur of a few hundred fixations by adding each one's truncated separable kernel in place (compiled).

:class:`~saliency.maps.fusion.SeparableGaussian` forms ``Ry[rows]ᵀ · diag(w) · Rx[cols]`` as tiled matrix
products; every output pixel of a tile pays for every fixation that reaches the tile. Here each fixation
adds its outer product ``w · Ry[row, i] · Rx[col, j]`` only over its own support ``[ylo, yhi] × [xlo, xhi]``
(about (2·4σ+1)² pixels for the Gaussian modes): ≈ 3× less CPU on OSIE's 800×600 maps with ≈ 140
fixations, same values to float32 rounding (the sums are taken in another order). The compiled loop
releases the GIL, so maps can be built on threads. Used where the response supports are compact (the
``constant`` and ``reflect`` modes); ``mit_fft``'s circular kernel covers the whole image, where the
matrix product is the better tool.
"""

from __future__ import annotations

import numba
import numpy as np

from saliency.maps.fusion import SeparableGaussian, _weights, pixel_indices


@numba.njit(cache=True, nogil=True)
def _scatter(ry: np.ndarray, rx: np.ndarray, rows: np.ndarray, cols: np.ndarray, w: np.ndarray,
             ylo: np.ndarray, yhi: np.ndarray, xlo: np.ndarray, xhi: np.ndarray,
             out: np.ndarray) -> float:  # pragma: no cover - compiled
    """Fill ``out`` (float32) with the blur; returns its maximum over the values ≥ 0 (0 for an empty map).
    Each output row's maximum is taken as soon as the last fixation reaching it has been added (while the
    row is still in cache), as the largest float32 bit pattern read as int32 (ordered like the floats
    where ≥ 0, negative where they are negative)."""
    h, wd = out.shape
    out[:] = 0.0
    last = np.full(h, -1, np.int64)  # the last fixation that reaches each row
    for k in range(rows.size):
        last[ylo[rows[k]]:yhi[rows[k]] + 1] = k
    order = np.argsort(last, kind="mergesort")  # rows by the fixation that completes them (stable)
    bits = out.reshape(-1).view(np.int32)
    top = np.int32(0)
    nxt = 0
    while nxt < h and last[order[nxt]] < 0:  # rows no fixation reaches stay 0
        nxt += 1
    for k in range(rows.size):
        r, c, wk = rows[k], cols[k], w[k]
        x0, x1 = xlo[c], xhi[c] + 1
        bx = rx[c, x0:x1]
        i, i1 = ylo[r], yhi[r] + 1
        while i + 1 < i1:  # two rows per pass: each value of bx loaded once for both (≈ 14 % faster)
            a, b = wk * ry[r, i], wk * ry[r, i + 1]
            d0, d1 = out[i, x0:x1], out[i + 1, x0:x1]
            for j in range(x1 - x0):
                v = bx[j]
                d0[j] += a * v
                d1[j] += b * v
            i += 2
        if i < i1:
            a, d0 = wk * ry[r, i], out[i, x0:x1]
            for j in range(x1 - x0):
                d0[j] += a * bx[j]
        # rows now complete: their maximum while in cache (the loop of u16codec._max_bits written out here:
        # calling it per row measured ≈ 15 % slower for the whole blur)
        while nxt < h and last[order[nxt]] == k:
            row = bits[order[nxt] * wd:(order[nxt] + 1) * wd]
            for j in range(wd):
                top = row[j] if row[j] > top else top
            nxt += 1
    return np.array([top], np.int32).view(np.float32)[0]


def compact_support(g: SeparableGaussian) -> bool:
    """Whether the responses of ``g`` are narrow enough (on average under half the image) to scatter."""
    ylo, yhi, xlo, xhi = g.support
    return bool((yhi - ylo).mean() < g.height / 2 and (xhi - xlo).mean() < g.width / 2)


def _blur_total(g: SeparableGaussian, rows: np.ndarray, cols: np.ndarray, w: np.ndarray) -> float:
    """Σ of the unnormalised blur of the weighted deltas, in float64 without forming the map:
    ``Σₖ wₖ · ΣRy[rowₖ] · ΣRx[colₖ]`` (the map's sum up to its float32 rounding)."""
    sy, sx = g.response_sums
    return float((sy[rows] * sx[cols]) @ w)


def blur_points(g: SeparableGaussian, x_px: np.ndarray, y_px: np.ndarray, weights: np.ndarray | None = None,
                out: np.ndarray | None = None) -> tuple[np.ndarray, float | None, float | None]:
    """(map, total, peak): the (H, W) float32 unnormalised blur of the fixations at stimulus pixels (x_px,
    y_px) (0-based; pixel ``(floor(y), floor(x))``) weighted by ``weights`` (None: 1 each) — ``g.blur`` to
    float32 rounding — its sum in float64 computed from the kernels, and ``max(map, 0)`` (both None where
    not scattered).

    ``out``: an (H, W) float32 C-contiguous buffer to fill (reused between maps), else a new array. Falls
    back to ``g.blur`` where the supports are not compact (``mit_fft``). Raises :class:`SchemaError` for
    points outside the image or bad weights, as ``g.blur`` does.
    """
    rows, cols = pixel_indices(x_px, y_px, g.height, g.width)
    w = _weights(weights, rows.size)
    if not compact_support(g):
        m = g.blur_indices(rows, cols, w)
        if out is not None:
            out[...] = m
            m = out
        return m, None, None
    if out is None:
        out = np.empty((g.height, g.width), np.float32)
    peak = _scatter(g.ry, g.rx, rows, cols, w.astype(np.float32), *g.support, out)
    return out, _blur_total(g, rows, cols, w), float(peak)
