"""The centre-bias prior: a 2-D Gaussian fitted to fixations (the IG baseline and the `centre_gaussian` row)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from saliency.errors import SchemaError


@dataclass(frozen=True)
class CentreGaussian:
    """A 2-D Gaussian over normalised image coordinates (u = x / W, v = y / H; both in [0, 1])."""

    mean: tuple[float, float]
    cov: tuple[tuple[float, float], tuple[float, float]]
    n_fixations: int

    def density(self, height: int, width: int) -> np.ndarray:
        """(H, W) float64 density summing to 1, the Gaussian evaluated at pixel centres."""
        u = (np.arange(width) + 0.5) / width - self.mean[0]
        v = (np.arange(height) + 0.5) / height - self.mean[1]
        inv = np.linalg.inv(np.asarray(self.cov))
        q = (inv[0, 0] * u[None, :] ** 2 + 2 * inv[0, 1] * u[None, :] * v[:, None] + inv[1, 1] * v[:, None] ** 2)
        d = np.exp(-0.5 * (q - q.min()))
        return d / d.sum()


def row_sizes(stimulus: pd.Series | np.ndarray, sizes: Mapping[str, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(height, width) of each row's stimulus as float64 arrays: one look-up per distinct stimulus (a
    factorisation of the column), not per row. A stimulus without a size is a KeyError."""
    codes, names = pd.factorize(stimulus, sort=False)
    hw = np.array([sizes[str(n)] for n in names], dtype=np.float64).reshape(-1, 2)
    return hw[codes, 0], hw[codes, 1]


def fit_centre_gaussian(frame: pd.DataFrame, sizes: Mapping[str, tuple[int, int]],
                        stimuli: list[str] | None = None) -> CentreGaussian:
    """Fit mean and covariance of the fixations (columns stimulus, x, y) in normalised coordinates.

    sizes: stimulus → (height, width). ``stimuli`` restricts the fit (e.g. to the training split).
    """
    f = frame if stimuli is None else frame[frame["stimulus"].isin(set(stimuli))]
    if len(f) < 3:
        raise SchemaError(f"need at least 3 fixations to fit a centre-bias Gaussian, got {len(f)}")
    h, w = row_sizes(f["stimulus"], sizes)
    uv = np.stack([f["x"].to_numpy(np.float64) / w, f["y"].to_numpy(np.float64) / h])
    mean = uv.mean(axis=1)
    cov = np.cov(uv)
    return CentreGaussian((float(mean[0]), float(mean[1])),
                          ((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))), len(f))


def centre_fit_stimuli(all_stimuli: list[str], scored: list[str]) -> list[str]:
    """THE rule for the IG/LL/sAUC-map baseline, used by ``evaluate``, ``baselines`` and the pipeline: the
    centre bias is fitted to the fixations of the images NOT scored (the benchmark fits its centre bias to
    other images than the ones it scores); when every image is scored, to all of them."""
    rest = sorted(set(all_stimuli) - set(scored))
    return rest if rest else list(all_stimuli)


def fit_scoring_centre(frame: pd.DataFrame, sizes: Mapping[str, tuple[int, int]], all_stimuli: list[str],
                       scored: list[str]) -> CentreGaussian:
    """The centre-bias Gaussian of :func:`centre_fit_stimuli` (the one baseline rule)."""
    return fit_centre_gaussian(frame, sizes, centre_fit_stimuli(all_stimuli, scored))
