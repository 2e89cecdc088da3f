"""Predictions as files: 8-bit PNG (benchmark submission format) and float32 NPY.

PNG (MIT/Tuebingen saliency benchmark submissions): one grey 8-bit image per stimulus, same size as the
stimulus, named after it (``<stem>.png``); values ``round(255 · (m − min) / (max − min))`` of the
*probability* map (a log-density is exponentiated first), so the brightest pixel is 255. The benchmark
only needs the ranking/shape of the map; the PNG loses the absolute scale (use NPY to keep it).
NPY: the map as float32 (H, W), exactly as predicted (``np.load(..., allow_pickle=False)`` reads it).
Both ``saliency predict`` and ``saliency export`` write through these functions (one 8-bit scaling).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saliency.errors import SchemaError
from saliency.io import atomic_write


def map_to_uint8(smap: np.ndarray, *, log_density: bool = False) -> np.ndarray:
    """(H, W) float → (H, W) uint8 by min-max scaling (constant maps → all zeros)."""
    m = np.asarray(smap, dtype=np.float64)
    if m.ndim != 2:
        raise SchemaError(f"saliency map must be (H, W), got shape {m.shape}")
    if log_density:
        m = np.exp(m - m.max())
    lo, hi = float(m.min()), float(m.max())
    if not np.isfinite(hi - lo) or hi <= lo:
        return np.zeros(m.shape, np.uint8)
    return np.rint((m - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def write_prediction_png(smap: np.ndarray, path: str | Path, *, log_density: bool = False) -> Path:
    from PIL import Image

    path = Path(path)
    with atomic_write(path, "wb") as fh:
        Image.fromarray(map_to_uint8(smap, log_density=log_density), mode="L").save(fh, format="PNG")
    return path


def read_prediction_png(path: str | Path) -> np.ndarray:
    """(H, W) uint8."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def write_prediction_npy(smap: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        np.save(fh, np.asarray(smap, dtype=np.float32), allow_pickle=False)
    return path


def read_prediction_npy(path: str | Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)
