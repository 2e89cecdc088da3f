"""The shuffled-AUC nonfixation density of the MIT/Tübingen benchmark: the model's own average prediction
over the *other* scored images (pysaliency ``ShuffledBaselineModel``), pure numpy/scipy.

Shuffled AUC takes its negatives from the fixations of other images, so the optimal sAUC map of a
probabilistic model is ``p / p_nonfix`` with ``p_nonfix`` the density of those negatives. We offer two
estimates of ``p_nonfix`` (``saliency evaluate --sauc-baseline``):

* ``centre`` (our default): the centre-bias Gaussian fitted to the fixations
  (:func:`saliency.metrics.centre_bias.fit_scoring_centre`);
* ``model`` (the benchmark's choice — its ``SaliencyMapProvider.baseline_model_for_sAUC`` returns
  ``ShuffledBaselineModel(model, stimuli)`` for MIT300 and MIT1003, no other variant): for stimulus *s*, the
  mean of the model's densities of all other scored stimuli. Each log-density is resized to
  :data:`COMPUTE_SIZE` = (500, 500) (``scipy.ndimage.zoom`` of the *log*-density, bilinear ``order=1``,
  ``mode='nearest'``, then renormalised), the densities are averaged (in probability, not log, space), and
  the result is resized back to the stimulus's (H, W) the same way. Leave-one-out is computed as
  ``(Σ_all − p_s) / (N − 1)``, as pysaliency 0.2.22 does; a cell that cancels to ≤ 0 in floating point is
  floored at the smallest positive float (pysaliency would give NaN there).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from saliency.errors import SchemaError
from saliency.metrics.probabilistic import logsumexp

__all__ = ["COMPUTE_SIZE", "SAUC_BASELINES", "OtherImagesAverage", "resize_log_density"]

#: The grid (H, W) on which the benchmark averages the other images' predictions.
COMPUTE_SIZE: tuple[int, int] = (500, 500)
#: Choices of ``--sauc-baseline``: the fitted centre bias (default) or the model's average over other images.
SAUC_BASELINES: tuple[str, ...] = ("centre", "model")


def resize_log_density(log_density: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A log-density resized to ``shape`` (H, W) as the benchmark does: bilinear zoom of the log values
    (``mode='nearest'``), renormalised to ``logsumexp = 0``. Unchanged (float64) when the shape matches."""
    from scipy.ndimage import zoom

    a = np.asarray(log_density, dtype=np.float64)
    if a.shape == tuple(shape):
        return a
    out = zoom(a, [shape[0] / a.shape[0], shape[1] / a.shape[1]], order=1, mode="nearest")
    if out.shape != tuple(shape):
        raise SchemaError(f"resizing a {a.shape} log-density gave {out.shape}, not {tuple(shape)}")
    return out - logsumexp(out)


class OtherImagesAverage:
    """Sum of the model's densities over the scored images on :data:`COMPUTE_SIZE`; gives each image's
    leave-one-out average (its shuffled-AUC nonfixation log-density)."""

    def __init__(self, log_densities: Iterable[np.ndarray], compute_size: tuple[int, int] = COMPUTE_SIZE) -> None:
        self.compute_size = tuple(compute_size)
        self.total = np.zeros(self.compute_size, dtype=np.float64)
        self.count = 0
        for ld in log_densities:
            self.total += np.exp(resize_log_density(ld, self.compute_size))
            self.count += 1

    def nonfixation_log_density(self, log_density: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """log of the mean density of the *other* images (``log_density`` is this image's prediction, one
        of those summed), resized to ``shape`` (H, W)."""
        if self.count < 2:
            raise SchemaError("the model-average shuffled-AUC baseline needs at least 2 scored images "
                              f"(got {self.count}); use --sauc-baseline centre")
        this = np.exp(resize_log_density(log_density, self.compute_size))
        others = np.maximum((self.total - this) / (self.count - 1), np.finfo(np.float64).tiny)
        return resize_log_density(np.log(others), shape)
