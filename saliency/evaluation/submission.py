"""Benchmark submissions: the MIT300 / CAT2000 layout and the MIT/Tübingen probabilistic format.

* **MIT300** (saliency.mit.edu, ``code_forMetrics`` scores them): one 8-bit greyscale JPEG per stimulus, named
  like the stimulus (``i1.jpg`` → ``i1.jpg``) and exactly as large; maps min–max scaled to 0…255.
* **CAT2000**: the same, in one folder per category (``Action/001.jpg`` …), the category being the name of
  the folder holding the stimulus (CAT2000's ``Stimuli/<Category>/<n>.jpg``).
* **Tübingen** (probabilistic models, scored by pysaliency): one HDF5 file with one float64 dataset per
  stimulus holding its log-density (natural log, ``logsumexp = 0``), keyed by the stimuli's minimal unique
  file names — the layout of pysaliency's ``export_model_to_hdf5`` that ``pysaliency.HDF5Model`` reads back.
  Every log-density is checked first (:func:`saliency.metrics.probabilistic.check_log_density`: finite,
  normalised within the benchmark's 0.01); an invalid one is an error naming the stimulus.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from saliency.errors import SchemaError

LAYOUTS = ("mit300", "cat2000", "tuebingen")
JPEG_QUALITY = 100


def _jpeg(m: np.ndarray, path: Path, size: tuple[int, int]) -> Path:
    from PIL import Image

    from saliency.interop.images import map_to_uint8

    if tuple(m.shape) != tuple(size):
        raise SchemaError(f"{path.name}: map is {m.shape[0]}×{m.shape[1]} but the stimulus is "
                          f"{size[0]}×{size[1]}; submissions must be sized like the stimuli")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(map_to_uint8(m), mode="L").save(path, quality=JPEG_QUALITY, subsampling=0)
    return path


def write_jpeg_submission(maps: Iterable[tuple[str | Path, np.ndarray]], out: str | Path, *,
                          layout: str = "mit300") -> list[Path]:
    """JPEG maps for MIT300 (``out/<stem>.jpg``) or CAT2000 (``out/<category>/<stem>.jpg``).

    maps: (stimulus image path, (H, W) map at the stimulus's size). Returns the written files.
    """
    from saliency.interop import image_shape

    if layout not in ("mit300", "cat2000"):
        raise SchemaError(f"unknown JPEG submission layout {layout!r}; expected mit300 or cat2000")
    out = Path(out)
    written: list[Path] = []
    seen: set[Path] = set()
    for stim, m in maps:
        stim = Path(stim)
        rel = Path(stim.stem + ".jpg") if layout == "mit300" else Path(stim.parent.name) / (stim.stem + ".jpg")
        if rel in seen:
            raise SchemaError(f"two stimuli would both be written as {rel}")
        seen.add(rel)
        h, w = image_shape(stim)[:2]
        written.append(_jpeg(np.asarray(m, dtype=np.float64), out / rel, (h, w)))
    return written


def write_tuebingen_submission(log_densities: Iterable[tuple[str | Path, np.ndarray]],
                               target: str | Path) -> Path:
    """One HDF5 file of log-densities keyed by minimal unique file names (pysaliency ``HDF5Model``)."""
    from saliency.interop.pysaliency_hdf5 import minimal_unique_filenames, write_predictions_hdf5
    from saliency.metrics.probabilistic import check_log_density

    items = [(Path(p), np.asarray(m)) for p, m in log_densities]
    keys = minimal_unique_filenames([str(p) for p, _ in items])
    checked = {}
    for key, (p, m) in zip(keys, items, strict=True):
        checked[key] = check_log_density(m, stimulus=p.name)
    return write_predictions_hdf5(checked, target)
