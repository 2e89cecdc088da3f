"""``centre_loo``: the leave-one-image-out average of all other images' fixation maps, rescaled to the
image and blurred like the ground truth."""

from __future__ import annotations

import numpy as np

from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.evaluation import FixationPool


class LeaveOneImageOut:
    """``centre_loo`` maps: every pooled fixation rescaled to the image size, blurred once per size
    (:meth:`prepare`, not thread-safe), minus the image's own fixations, clipped at 0, sum 1 (:meth:`map`,
    thread-safe once prepared)."""

    def __init__(self, pool: FixationPool, blur: ShardBlur) -> None:
        self.pool, self.blur = pool, blur
        self._totals: dict[tuple[int, int], np.ndarray] = {}

    def prepare(self, shape: tuple[int, int]) -> None:
        if shape not in self._totals:
            ax, ay = shuffled_all(self.pool, shape)
            counts = np.bincount(ay * shape[1] + ax, minlength=shape[0] * shape[1]).reshape(shape)
            self._totals[shape] = self.blur.blur_counts(counts)

    def map(self, stimulus: str, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) float64 density of image ``stimulus`` (``prepare(shape)`` first)."""
        total = self._totals[shape]
        own = self.pool.stimulus == stimulus
        if own.any():
            ox, oy = shuffled_all(self.pool, shape, own)
            m = total - self.blur.blur(ox, oy, *shape)
        else:
            m = total
        m = np.clip(m, 0, None)
        return m / m.sum()


def shuffled_all(pool: FixationPool, shape: tuple[int, int], mask: np.ndarray | None = None):
    """All (or ``mask``-selected) pooled fixations rescaled to ``shape`` as integer pixels, clipped inside."""
    from saliency.metrics.fixation import shuffled_negatives

    sel = slice(None) if mask is None else mask
    x, y = shuffled_negatives(pool.x_px[sel], pool.y_px[sel], pool.width_px[sel], pool.height_px[sel], shape)
    return np.clip(x, 0, shape[1] - 1), np.clip(y, 0, shape[0] - 1)
