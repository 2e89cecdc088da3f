"""Exchange formats: pysaliency HDF5 (stimuli, fixations, saliency-map models), PNG and NPY predictions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from saliency.interop.images import (
    map_to_uint8,
    read_prediction_npy,
    read_prediction_png,
    write_prediction_npy,
    write_prediction_png,
)
from saliency.interop.pysaliency_hdf5 import (
    minimal_unique_filenames,
    read_fixations_hdf5,
    read_predictions_hdf5,
    read_stimuli_hdf5,
    write_fixations_hdf5,
    write_predictions_hdf5,
    write_stimuli_hdf5,
)

__all__ = [
    "export_fixations", "export_predictions", "image_shape", "map_to_uint8", "minimal_unique_filenames",
    "read_fixations_hdf5", "read_prediction_npy", "read_prediction_png", "read_predictions_hdf5",
    "read_stimuli_hdf5", "write_fixations_hdf5", "write_prediction_npy", "write_prediction_png",
    "write_predictions_hdf5", "write_stimuli_hdf5",
]

FORMATS = ("hdf5", "png", "npy")


def image_shape(path: str | Path) -> tuple[int, ...]:
    """pysaliency's FileStimuli shape from the image header: (H, W) for one band, else (H, W, bands)."""
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        return (h, w) if len(im.mode) == 1 else (h, w, len(im.mode))


def export_fixations(table, out_dir: str | Path, *, image_paths: dict[str, str | Path] | None = None) -> dict[str, Path]:
    """Write ``stimuli.hdf5`` (FileStimuli) and ``fixations.hdf5`` (FixationTrains) into ``out_dir``.

    image_paths: stimulus → image file (default: ``StimulusInfo.path`` recorded in the table's metadata).
    pysaliency reads them back with ``pysaliency.read_hdf5`` (stimuli first: ``train_ns`` index into it).
    """
    from saliency.errors import SchemaError

    out = Path(out_dir)
    names = sorted(table.meta.stimuli)
    paths = []
    for n in names:
        p = (image_paths or {}).get(n) or table.meta.stimuli[n].path
        if p is None:
            raise SchemaError(f"no image path for stimulus {n!r}: pass image_paths or record StimulusInfo.path")
        paths.append(Path(p))
    write_stimuli_hdf5(paths, [image_shape(p) for p in paths], out / "stimuli.hdf5")
    write_fixations_hdf5(table, out / "fixations.hdf5", stimuli=names)
    return {"stimuli": out / "stimuli.hdf5", "fixations": out / "fixations.hdf5"}


def export_predictions(items: Iterable[tuple[str | Path, np.ndarray]], out_dir: str | Path, *,
                       formats: Sequence[str] = FORMATS, log_density: bool = False) -> dict[str, Path]:
    """Write predictions ((image path, (H, W) map) pairs) as ``predictions.hdf5`` (keys: minimal unique
    file names, as ``export_model_to_hdf5``), ``png/<stem>.png`` (8-bit) and ``npy/<stem>.npy`` (float32)."""
    from saliency.errors import ConfigError

    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        raise ConfigError(f"unknown export format(s) {bad}; known: {list(FORMATS)}")
    out = Path(out_dir)
    pairs = [(Path(p), np.asarray(m)) for p, m in items]
    keys = minimal_unique_filenames([p for p, _ in pairs])
    written: dict[str, Path] = {}
    if "hdf5" in formats:
        written["hdf5"] = write_predictions_hdf5(dict(zip(keys, (m for _, m in pairs), strict=True)),
                                                 out / "predictions.hdf5")
    for fmt in ("png", "npy"):
        if fmt in formats:
            for key, (_, m) in zip(keys, pairs, strict=True):
                stem = str(Path(key).with_suffix(""))
                if fmt == "png":
                    write_prediction_png(m, out / "png" / f"{stem}.png", log_density=log_density)
                else:
                    write_prediction_npy(m, out / "npy" / f"{stem}.npy")
            written[fmt] = out / fmt
    return written
