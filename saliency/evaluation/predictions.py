"""Prediction sources that run a model: a trained checkpoint as a lazy mapping stimulus → map.

:func:`load_predictions` accepts everything ``saliency evaluate`` scores: a folder of maps or a pysaliency
HDF5 file (read by :func:`saliency.metrics.predictions.read_predictions`) or a checkpoint (``.pt``/``.pth``,
loaded with ``weights_only=True`` by :func:`saliency.training.load_model`; each map predicted at the image's
original size when it is asked for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from saliency.errors import SchemaError
from saliency.metrics.predictions import read_predictions


class CheckpointPredictions(Mapping[str, np.ndarray]):
    """A trained checkpoint's maps, predicted one image at a time at the image's original size."""

    def __init__(self, checkpoint: str | Path, stimuli: list[str], image_path: Callable[[str], Path]) -> None:
        from saliency.training import load_model

        self.path = Path(checkpoint)
        self.model = load_model(self.path)
        self.stimuli = list(stimuli)
        self.image_path = image_path

    def __getitem__(self, s: str) -> np.ndarray:
        from saliency.training import predict_maps

        if s not in self.stimuli:
            raise KeyError(s)
        (_, m), = list(predict_maps(self.model, [self.image_path(s)]))
        return np.asarray(m, dtype=np.float64)

    def __iter__(self) -> Iterator[str]:
        return iter(self.stimuli)

    def __len__(self) -> int:
        return len(self.stimuli)


def load_predictions(path: str | Path, stimuli: list[str],
                     image_path: Callable[[str], Path] | None = None) -> Mapping[str, np.ndarray]:
    """A folder of maps, a pysaliency HDF5 file or a checkpoint (needs ``image_path``: stimulus → image file)
    → lazy mapping stimulus → map."""
    p = Path(path)
    if p.suffix.lower() in (".pt", ".pth") and p.is_file():
        if image_path is None:
            raise SchemaError(f"{p}: a checkpoint needs the stimulus images to predict from")
        return CheckpointPredictions(p, stimuli, image_path)
    return read_predictions(p, stimuli)
