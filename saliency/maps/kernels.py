"""Separable 1-D Gaussian response matrices, one per boundary mode.

A Gaussian blur is separable and linear, so the blur of a sum of weighted deltas (a fixation count map)
is ``Ry[rows].T @ diag(w) @ Rx[cols]``, where row ``r`` of a response matrix ``R`` (n × n) is the 1-D
blur of a unit delta at index ``r``. With ``N`` fixations that is an (H × N)·(N × W) matrix product:
exact up to the kernel's own truncation, and far cheaper than filtering a dense H × W count map.

Modes (all reproduce a named reference exactly, up to float rounding):

``"constant"``
    ``scipy.ndimage.gaussian_filter(..., mode="constant", cval=0)``: zero padding, the boundary of
    MATLAB's ``imfilter`` default. Mass that falls outside the image is lost (renormalised later).
``"reflect"``
    ``scipy.ndimage.gaussian_filter(..., mode="reflect")``: half-sample symmetric extension
    ``(d c b a | a b c d | d c b a)``, the default of pysaliency's ``FixationMap`` (``convolution_mode``).
``"mit_fft"``
    The MIT saliency benchmark's ``antonioGaussian(img, fc)`` (A. Torralba, 1999): the image is
    zero-padded to an ``n × n`` square, ``n`` the next power of two of ``max(H, W)`` (rounded up to even
    first), multiplied in the Fourier domain by ``exp(-(fx² + fy²) / s²)`` with ``s = fc / sqrt(ln 2)``
    (``fx, fy`` in cycles per ``n`` pixels) and cropped: a circular blur on the padded square.

Discrete kernel of the scipy modes: ``scipy.ndimage._filters._gaussian_kernel1d``: weights
``exp(-x² / (2σ²))`` for integer ``x`` in ``[-r, r]``, ``r = int(truncate·σ + 0.5)``, normalised to sum 1.
"""

from __future__ import annotations

import math

import numpy as np

from saliency.errors import ConfigError

MODES = ("constant", "reflect", "mit_fft")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"boundary mode must be one of {MODES}, got {mode!r}")
    return mode


def kernel_radius(sigma_px: float, truncate: float) -> int:
    """scipy.ndimage's radius of a truncated Gaussian: ``int(truncate·σ + 0.5)`` samples each side."""
    return int(truncate * float(sigma_px) + 0.5)


def gaussian_kernel1d(sigma_px: float, truncate: float = 4.0) -> np.ndarray:
    """The sampled, truncated, sum-1 Gaussian of scipy.ndimage: shape (2r + 1,), float64."""
    r = kernel_radius(sigma_px, truncate)
    x = np.arange(-r, r + 1, dtype=np.float64)
    phi = np.exp(-0.5 * (x / float(sigma_px)) ** 2)
    return phi / phi.sum()


def mit_fft_size(height: int, width: int) -> int:
    """Side ``n`` of the square FFT grid of ``antonioGaussian``: next power of two of the (even) longest side."""
    n = max(int(height), int(width))
    n += n % 2
    return 1 << max(0, math.ceil(math.log2(n)))


def mit_sigma_to_fc(sigma_px: float, n: int) -> float:
    """Cut-off (cycles per ``n``-pixel FFT grid, −6 dB) of antonioGaussian whose blur has std ``sigma_px``.

    The transfer ``exp(-k²/s²)`` at ``k`` cycles per ``n`` px equals a Gaussian's ``exp(-2π²σ²k²/n²)``
    for ``s = n / (√2·π·σ)``; ``fc = s·sqrt(ln 2)``. For n = 1024, σ = 24 px gives fc = 8.00 (MIT benchmark).
    Bylinskii's ``run_antonioGaussian`` uses the unpadded ``max(H, W)`` for ``n``, which makes the true
    σ larger by ``n_padded / max(H, W)``; we use the grid actually transformed, so σ is honoured.
    """
    return n * math.sqrt(math.log(2.0)) / (math.sqrt(2.0) * math.pi * float(sigma_px))


def mit_fc_to_sigma(fc: float, n: int) -> float:
    """Inverse of :func:`mit_sigma_to_fc`: the spatial std (px) of antonioGaussian with cut-off ``fc``."""
    return n * math.sqrt(math.log(2.0)) / (math.sqrt(2.0) * math.pi * float(fc))


def mit_circular_kernel(n: int, fc: float) -> np.ndarray:
    """1-D circular kernel (n,) of antonioGaussian: ``real(ifft(fftshift(exp(-(k - n/2)²/s²))))``.

    The 2-D transfer function is the outer product of this 1-D one, so the 2-D filter is separable.
    """
    s = fc / math.sqrt(math.log(2.0))
    k = np.arange(n, dtype=np.float64) - n / 2
    gf = np.fft.fftshift(np.exp(-(k**2) / s**2))
    return np.fft.ifft(gf).real


def response_matrices(height: int, width: int, sigma_px: float, mode: str, truncate: float = 4.0,
                      fc: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row and column response matrices ``(Ry (H, H), Rx (W, W))`` float64 for an H × W image."""
    check_mode(mode)
    if not (sigma_px > 0 and math.isfinite(sigma_px)):
        raise ConfigError(f"sigma_px must be a positive finite number, got {sigma_px!r}")
    if mode == "mit_fft":
        n = mit_fft_size(height, width)
        kc = mit_circular_kernel(n, fc if fc is not None else mit_sigma_to_fc(sigma_px, n))
        return _circular(height, kc), _circular(width, kc)
    w = gaussian_kernel1d(sigma_px, truncate)
    return _scipy_response(height, w, mode), _scipy_response(width, w, mode)


def blur_deltas(ry: np.ndarray, rx: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                weights: np.ndarray | None = None) -> np.ndarray:
    """The blur of weighted unit deltas at (rows, cols): ``Ry[rows]ᵀ · diag(w) · Rx[cols]``, (H, W) in the
    matrices' dtype, not normalised. ``ry``, ``rx``: :func:`response_matrices` (any dtype)."""
    a = ry[rows]
    if weights is not None:
        a = a * weights[:, None]
    return a.T @ rx[cols]


def _circular(size: int, kc: np.ndarray) -> np.ndarray:
    idx = np.arange(size)
    return kc[(idx[None, :] - idx[:, None]) % kc.size]


def _scipy_response(size: int, w: np.ndarray, mode: str) -> np.ndarray:
    """Response of scipy's correlate1d with symmetric weights ``w`` to deltas, for one boundary mode.

    ``constant``: ``R[r, i] = w(i - r)``. ``reflect``: a delta at ``r`` also appears, in the
    half-sample-symmetric extension of period ``2·size``, at ``-1 - r`` and at both shifted by
    ``2k·size``; every copy within reach adds its weight.
    """
    radius = (w.size - 1) // 2
    r = np.arange(size)
    out = np.zeros((size, size), dtype=np.float64)

    def add(pos: np.ndarray) -> None:
        # one kernel tap (offset o) at a time: R[r, pos[r] + o] += w[o + radius] where that column exists;
        # each element gets at most one tap per call, so the sums are those of the dense form, bit for bit
        for o in range(max(-radius, -int(pos.max())), min(radius, size - 1 - int(pos.min())) + 1):
            col = pos + o
            ok = (col >= 0) & (col < size)
            out[r[ok], col[ok]] += w[o + radius]

    if mode == "constant":
        add(r)
        return out
    period = 2 * size
    kmax = radius // period + 1
    for k in range(-kmax, kmax + 1):
        add(r + k * period)
        add(-1 - r + k * period)
    return out
