"""``centre_loo``: the leave-one-image-out average of all other images' fixation maps, rescaled to the
image and blurred like the ground truth."""

from __future__ import annotations

import numpy as np

from saliency.baselines.jit import subtract_clipped
from saliency.baselines.sweep import row_extents
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.evaluation import FixationPool, rows_by_stimulus


class LeaveOneImageOut:
    """``centre_loo`` maps: every pooled fixation rescaled to the image size, blurred once per size
    (:meth:`prepare`, not thread-safe), minus the image's own fixations, clipped at 0, sum 1 (:meth:`map`,
    thread-safe once prepared)."""

    def __init__(self, pool: FixationPool, blur: ShardBlur) -> None:
        self.pool, self.blur = pool, blur
        self._totals: dict[tuple[int, int], np.ndarray] = {}
        self._by_stimulus: dict[str, np.ndarray] | None = None

    def prepare(self, shape: tuple[int, int]) -> None:
        if shape not in self._totals:
            ax, ay = shuffled_all(self.pool, shape)
            counts = np.bincount(ay * shape[1] + ax, minlength=shape[0] * shape[1]).reshape(shape)
            self._totals[shape] = self.blur.blur_counts(counts)

    def map(self, stimulus: str, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) float64 density of image ``stimulus`` (``prepare(shape)`` first).

        ``clip(total − blur(own fixations), 0) / sum``: the blur's rows are made as the BLAS product
        ``ShardBlur.blur`` is (:func:`saliency.baselines.jit.blur_row`, same bits) and subtracted and
        clipped as they are made; the sum and the division are numpy's, as before."""
        total = self._totals[shape]
        own = self._rows().get(str(stimulus))
        if own is None or not own.size:
            m = np.clip(total, 0, None)
            return m / m.sum()
        ox, oy = shuffled_all(self.pool, shape, own)
        ry, rx = self.blur.matrices(*shape)
        lo, hi = row_extents(ry)
        clo, chi = row_extents(rx)
        m = np.empty(shape)
        subtract_clipped(total, ry[oy], np.ascontiguousarray(rx[ox]), lo[oy], hi[oy], clo[ox], chi[ox], m)
        np.divide(m, m.sum(), out=m)
        return m

    def _rows(self) -> dict[str, np.ndarray]:
        """Pooled fixation rows of each stimulus (ascending), built once."""
        if self._by_stimulus is None:
            self._by_stimulus = rows_by_stimulus(self.pool.stimulus)
        return self._by_stimulus


def shuffled_all(pool: FixationPool, shape: tuple[int, int], mask: np.ndarray | None = None):
    """All (or ``mask``-selected) pooled fixations rescaled to ``shape`` as integer pixels, clipped inside."""
    from saliency.metrics.fixation import shuffled_negatives

    sel = slice(None) if mask is None else mask      # a boolean mask or ascending row indices
    x, y = shuffled_negatives(pool.x_px[sel], pool.y_px[sel], pool.width_px[sel], pool.height_px[sel], shape)
    return np.clip(x, 0, shape[1] - 1), np.clip(y, 0, shape[0] - 1)
