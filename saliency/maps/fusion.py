"""Fixations → count map → Gaussian-blurred probability map (the empirical saliency ground truth).

Coordinates are stimulus pixels, 0-based; a fixation at ``(x, y)`` falls in pixel
``(row, col) = (floor(y), floor(x))`` (pixel ``j`` covers ``x ∈ [j, j+1)``), as pysaliency's
``FixationMap`` (``int(x)``) does. Blurring is separable and done on the sparse fixations directly
(:class:`SeparableGaussian`), which equals ``scipy.ndimage.gaussian_filter`` of the count map with the
same σ, mode and truncation (or MIT's ``antonioGaussian`` for ``mode="mit_fft"``) to float32 rounding.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import ThreadpoolController

from saliency.errors import ConfigError, SchemaError
from saliency.maps.kernels import blur_deltas, check_mode, mit_fft_size, mit_sigma_to_fc, response_matrices

NORMALIZATIONS = ("sum", "max")


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread (threadpoolctl).

    The products here are small (H × N × W with N ≈ a few hundred): multi-threaded OpenBLAS gains
    nothing on them and, on a loaded machine, its spinning threads stall each call by 100s of ms.
    Parallelism comes from processes over stimuli instead.
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def pixel_indices(x_px: np.ndarray, y_px: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index (int64) of each fixation; raises :class:`SchemaError` outside the image."""
    x = np.asarray(x_px, dtype=np.float64).ravel()
    y = np.asarray(y_px, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise SchemaError(f"x_px and y_px differ in length: {x.size} vs {y.size}")
    bad = ~(np.isfinite(x) & np.isfinite(y) & (x >= 0) & (y >= 0) & (x < width) & (y < height))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SchemaError(f"fixation {i} at (x={x[i]}, y={y[i]}) px lies outside the {width}×{height} image "
                          f"(expected 0 ≤ x < width, 0 ≤ y < height); {int(bad.sum())} such fixations")
    return np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != n:
        raise SchemaError(f"weights has {w.size} entries for {n} fixations")
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise SchemaError("weights must be finite and non-negative")
    return w


def fixation_count_map(x_px: np.ndarray, y_px: np.ndarray, height: int, width: int,
                       weights: np.ndarray | None = None, *, drop_outside: bool = False) -> np.ndarray:
    """(H, W) float64 map: the (weighted) number of fixations in each pixel (pixel j covers [j, j+1)).

    A point outside the image (or not finite) raises :class:`SchemaError`, unless ``drop_outside``: then
    it is left out (e.g. fixations that augmentation moved off the canvas).
    """
    if drop_outside:
        x = np.asarray(x_px, dtype=np.float64).ravel()
        y = np.asarray(y_px, dtype=np.float64).ravel()
        keep = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (y >= 0) & (x < width) & (y < height)
        x_px, y_px = x[keep], y[keep]
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64).ravel()[keep]
    rows, cols = pixel_indices(x_px, y_px, height, width)
    out = np.zeros(height * width, dtype=np.float64)
    np.add.at(out, rows * width + cols, _weights(weights, rows.size))
    return out.reshape(height, width)


@dataclass
class SeparableGaussian:
    """Blur of weighted point sets on an H × W grid as a matrix product of 1-D response matrices.

    ``blur(rows, cols, w) = Ry[rows].T @ (w[:, None] · Rx[cols])``: (H, N)·(N, W) in float32 with
    response matrices precomputed (in float64, stored float32) once per (size, σ, mode). The output is
    computed in tiles of about ``2·radius`` pixels, each from only the fixations whose truncated kernel
    reaches it (exact: the others contribute exact zeros). Reuse one instance for many maps of one size.
    """

    height: int
    width: int
    sigma_px: float
    mode: str = "constant"
    truncate: float = 4.0
    fc: float | None = None
    ry: np.ndarray = field(init=False, repr=False)
    rx: np.ndarray = field(init=False, repr=False)
    _extent: tuple[np.ndarray, ...] = field(init=False, repr=False)
    _tile: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if self.height <= 0 or self.width <= 0:
            raise ConfigError(f"map size must be positive, got {self.width}×{self.height}")
        ry, rx = response_matrices(self.height, self.width, self.sigma_px, self.mode, self.truncate, self.fc)
        self.ry, self.rx = ry.astype(np.float32), rx.astype(np.float32)
        # support [lo, hi] of each delta's response, for skipping fixations out of reach of a tile
        self._extent = (*_support(self.ry), *_support(self.rx))
        reach = max(int((self._extent[1] - self._extent[0]).max()), int((self._extent[3] - self._extent[2]).max()))
        self._tile = max(128, reach)

    @property
    def support(self) -> tuple[np.ndarray, ...]:
        """(ylo, yhi, xlo, xhi): int64 first and last pixel each row's and each column's delta reaches."""
        return self._extent

    @functools.cached_property
    def response_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """(Σᵢ Ry[r, i], Σⱼ Rx[c, j]) in float64: the blur of a unit delta at (r, c) sums to their product."""
        return self.ry.sum(axis=1, dtype=np.float64), self.rx.sum(axis=1, dtype=np.float64)

    @property
    def fc_cycles(self) -> float | None:
        """The mit_fft cut-off actually used (cycles per FFT grid), else None."""
        if self.mode != "mit_fft":
            return None
        return self.fc if self.fc is not None else mit_sigma_to_fc(self.sigma_px,
                                                                   mit_fft_size(self.height, self.width))

    def blur_indices(self, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(H, W) float32 unnormalised blur of the weighted deltas at (rows, cols)."""
        if rows.size == 0:
            return np.zeros((self.height, self.width), dtype=np.float32)
        # merge fixations on the same pixel: fewer rows in the product, same result
        flat = rows * self.width + cols
        uniq, inv = np.unique(flat, return_inverse=True)
        w = np.bincount(inv, weights=weights, minlength=uniq.size)
        r, c = np.divmod(uniq, self.width)
        h, wd, t = self.height, self.width, self._tile
        if t >= max(h, wd):
            return blur_deltas(self.ry, self.rx, r, c, w.astype(np.float32))
        a = self.ry[r] * w.astype(np.float32)[:, None]
        b = self.rx[c]
        ylo, yhi, xlo, xhi = (e[i] for e, i in zip(self._extent, (r, r, c, c), strict=True))
        out = np.zeros((h, wd), dtype=np.float32)
        for i0 in range(0, h, t):
            i1 = min(h, i0 + t)
            near_rows = (ylo < i1) & (yhi >= i0)
            for j0 in range(0, wd, t):
                j1 = min(wd, j0 + t)
                idx = np.flatnonzero(near_rows & (xlo < j1) & (xhi >= j0))
                if idx.size:
                    np.matmul(a[idx, i0:i1].T, b[idx, j0:j1], out=out[i0:i1, j0:j1])
        return out

    def blur(self, x_px: np.ndarray, y_px: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """(H, W) float32 Gaussian blur of the fixation count map (not normalised)."""
        rows, cols = pixel_indices(x_px, y_px, self.height, self.width)
        return self.blur_indices(rows, cols, _weights(weights, rows.size))


def _support(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last non-zero column of each row of a response matrix."""
    nz = r != 0
    return nz.argmax(axis=1), r.shape[1] - 1 - nz[:, ::-1].argmax(axis=1)


def normalize_map(m: np.ndarray, how: str = "sum", dtype: np.dtype | type = np.float32, *,
                  inplace: bool = False) -> np.ndarray:
    """Clip tiny negative rounding to 0 and scale to sum 1 (``"sum"``, a probability map) or peak 1
    (``"max"``, for display). An all-zero map becomes uniform (``"sum"``) or stays 0 (``"max"``).
    ``inplace``: reuse ``m``'s memory when it is float32 (for freshly computed maps)."""
    if how not in NORMALIZATIONS:
        raise ConfigError(f"normalisation must be one of {NORMALIZATIONS}, got {how!r}")
    m = np.asarray(m, dtype=np.float32)
    m = np.maximum(m, 0.0, out=m if inplace else None)
    total = float(m.sum(dtype=np.float64)) if how == "sum" else float(m.max(initial=0.0))
    if total <= 0:
        return (np.full(m.shape, 1.0 / m.size) if how == "sum" else np.zeros(m.shape)).astype(dtype)
    m *= np.float32(1.0 / total)
    return m.astype(dtype, copy=False)


def fuse_fixations(x_px: np.ndarray, y_px: np.ndarray, height: int, width: int, sigma_px: float, *,
                   weights: np.ndarray | None = None, mode: str = "constant", truncate: float = 4.0,
                   dtype: np.dtype | type = np.float32, fc_cycles: float | None = None,
                   blur: SeparableGaussian | None = None) -> np.ndarray:
    """Fixations → (H, W) probability map summing to 1 (Gaussian-blurred count map).

    x_px, y_px: (N,) stimulus pixels, 0-based. sigma_px: Gaussian std in pixels. weights: (N,) ≥ 0 or None.
    mode: ``"constant"`` (zero padding; MATLAB imfilter), ``"reflect"`` (pysaliency FixationMap) or
    ``"mit_fft"`` (MIT benchmark antonioGaussian; ``fc_cycles`` overrides σ with a cut-off in cycles per
    FFT grid). ``blur``: a reusable :class:`SeparableGaussian` of the same parameters (speed only).
    With no fixations (or zero total weight) the map is uniform.
    Equals ``gaussian_filter(fixation_count_map(...), sigma_px, mode=mode, truncate=truncate)`` / sum.
    """
    if blur is None:
        blur = SeparableGaussian(height, width, sigma_px, mode, truncate, fc_cycles)
    elif (blur.height, blur.width, blur.sigma_px, blur.mode, blur.truncate, blur.fc) != (
            height, width, sigma_px, mode, truncate, fc_cycles):
        raise ConfigError("the SeparableGaussian given does not match the requested size, σ, mode or truncation")
    with single_threaded_blas():
        return normalize_map(blur.blur(x_px, y_px, weights), "sum", dtype, inplace=True)


def observer_splits(observers: np.ndarray, *, leave_out: bool = True
                    ) -> Iterator[tuple[Hashable, np.ndarray, np.ndarray]]:
    """(observer, source mask, target mask) for each observer, in sorted order.

    ``leave_out`` (the gold standard): the sources are the *other* observers' fixations and the targets the
    observer's own; otherwise (``one_human``) the observer's own fixations are the sources and everyone
    else's the targets. The one definition of leave-one-observer-out for maps and baselines.
    """
    obs = np.asarray(observers).ravel()
    for name in sorted(set(obs.tolist())):
        mine = obs == name
        yield (name, ~mine, mine) if leave_out else (name, mine, ~mine)


def leave_one_observer_out(x_px: np.ndarray, y_px: np.ndarray, observers: np.ndarray, height: int, width: int,
                           sigma_px: float, *, weights: np.ndarray | None = None, mode: str = "constant",
                           truncate: float = 4.0, dtype: np.dtype | type = np.float32,
                           fc_cycles: float | None = None) -> dict[Hashable, np.ndarray]:
    """For each observer, the (H, W) probability map (sum 1) of all *other* observers' fixations.

    The gold-standard ("one-human-out") baseline. Each map is blurred from the other observers' fixations
    directly (no subtraction, so no rounding residue where only the left-out observer looked). An observer
    who is the only one with fixations gets a uniform map.
    """
    obs = np.asarray(observers).ravel()
    rows, cols = pixel_indices(x_px, y_px, height, width)
    if obs.size != rows.size:
        raise SchemaError(f"observers has {obs.size} entries for {rows.size} fixations")
    w = _weights(weights, rows.size)
    g = SeparableGaussian(height, width, sigma_px, mode, truncate, fc_cycles)
    out: dict[Hashable, np.ndarray] = {}
    with single_threaded_blas():
        for name, keep, _ in observer_splits(obs):
            out[name] = normalize_map(g.blur_indices(rows[keep], cols[keep], w[keep]), "sum", dtype, inplace=True)
    return out
