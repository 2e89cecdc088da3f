"""A shard set's own blur (σ, mode, truncation, cut-off, fixation weighting from its metadata), in float64.

For maps that must be built exactly like the ground truth, e.g. the observer baselines: the blur is the
separable one of :mod:`saliency.maps.kernels` (:func:`~saliency.maps.kernels.response_matrices`,
:func:`~saliency.maps.kernels.blur_deltas`), kept in float64 and cached per image size.
"""

from __future__ import annotations

import numpy as np

from saliency.maps.kernels import blur_deltas, response_matrices
from saliency.maps.options import MapOptions, fixation_weights, resolved_fc


class ShardBlur:
    """The ground truth's own blur, read from a shard set's metadata, for baseline maps built like it.

    σ (``meta["sigma_px"]``), boundary ``mode``, ``truncate``, the ``mit_fft`` cut-off (``options["fc_cycles"]``,
    resolved per image size exactly as the shard writer does) and the fixation weighting options
    (``selection``, ``drop_first``, ``duration_weighted``, ``observer_equal``) of ``meta["options"]``. A map of weighted
    fixations is ``Ry[rows]ᵀ · diag(w) · Rx[cols]`` with the float64 response matrices of
    :func:`saliency.maps.kernels.response_matrices` (cached per image size). Shards without ``options``
    (older or in-memory sets) get the defaults: mode ``constant``, truncate 4, no weighting.
    """

    def __init__(self, meta: dict, sigma_px: float | None = None) -> None:
        opts = dict(meta.get("options") or {})
        self.options = MapOptions.from_dict(opts) if opts else MapOptions()
        self.sigma_px = float(sigma_px if sigma_px is not None else meta["sigma_px"])
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def fc(self, height: int, width: int) -> float | None:
        """The mit_fft cut-off used for this size (None for the other modes)."""
        return resolved_fc(self.options, self.sigma_px, height, width)

    def matrices(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(Ry (H, H), Rx (W, W)) float64: row r of Ry is the blurred response of a delta in row r."""
        key = (int(height), int(width))
        if key not in self._cache:
            o = self.options
            self._cache[key] = response_matrices(key[0], key[1], self.sigma_px, o.mode, o.truncate,
                                                 self.fc(*key))
        return self._cache[key]

    def source_weights(self, rows) -> np.ndarray:
        """(K,) weights of a stimulus's fixation rows in a map: 0 for rows the options drop, the duration /
        observer weights of :func:`saliency.maps.options.fixation_weights` otherwise (1 without options)."""
        w = np.zeros(len(rows))
        keep = np.ones(len(rows), dtype=bool)
        if "index" in rows:
            keep = self.options.effective_selection.mask(rows)
        sel = rows[keep]
        fw = fixation_weights(sel, self.options) if len(sel) else None
        w[keep] = 1.0 if fw is None else fw
        return w

    def blur(self, xi: np.ndarray, yi: np.ndarray, height: int, width: int,
             weights: np.ndarray | None = None) -> np.ndarray:
        """(H, W) float64 blurred, weighted count map of integer pixels (xi, yi) (not normalised)."""
        ry, rx = self.matrices(height, width)
        return blur_deltas(ry, rx, np.asarray(yi, dtype=np.int64), np.asarray(xi, dtype=np.int64),
                           None if weights is None else np.asarray(weights, dtype=np.float64))

    def blur_counts(self, counts: np.ndarray) -> np.ndarray:
        """(H, W) float64 blur of a dense count map: ``Ryᵀ · C · Rx``."""
        ry, rx = self.matrices(*counts.shape)
        return ry.T @ np.asarray(counts, dtype=np.float64) @ rx
