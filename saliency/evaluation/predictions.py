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

    def __init__(self, checkpoint: str | Path, stimuli: list[str], image_path: Callable[[str], Path], *,
                 log_density: bool = False) -> None:
        from saliency.training import resolve_model

        self.path = Path(checkpoint)
        self.model = resolve_model(checkpoint)  # a .pt file, or a released model name / folder
        self.task = str(getattr(self.model, "task", "fixation"))
        self.stimuli = list(stimuli)
        self.image_path = image_path
        #: a fixation model's maps as float64 log-densities (probabilistic scoring); SOD models never
        self.log_density = log_density and self.task == "fixation"

    def __getitem__(self, s: str) -> np.ndarray:
        from saliency.training import predict_maps

        if s not in self.stimuli:
            raise KeyError(s)
        (_, m), = list(predict_maps(self.model, [self.image_path(s)]))
        m = np.asarray(m, dtype=np.float64)
        if self.log_density:   # the float32 density (floored at float32 tiny, no zeros) renormalised in float64
            from saliency.metrics.probabilistic import logsumexp

            with np.errstate(divide="ignore"):
                m = np.log(m)
            m = m - logsumexp(m)
        return m

    def __iter__(self) -> Iterator[str]:
        return iter(self.stimuli)

    def __len__(self) -> int:
        return len(self.stimuli)


def load_predictions(path: str | Path, stimuli: list[str],
                     image_path: Callable[[str], Path] | None = None, *,
                     log_density: bool = False) -> Mapping[str, np.ndarray]:
    """A folder of maps, a pysaliency HDF5 file, a checkpoint or a released model name/folder (the last two
    need ``image_path``: stimulus → image file)
    → lazy mapping stimulus → map. ``log_density``: a fixation checkpoint yields float64 log-densities
    (renormalised) instead of densities."""
    from saliency.released_index import is_released

    p = Path(path)
    if is_released(path):  # a released model name (e.g. generalist) or folder: predicted from the images
        if image_path is None:
            raise SchemaError(f"{p}: a released model needs the stimulus images to predict from")
        return CheckpointPredictions(path, stimuli, image_path, log_density=log_density)
    if p.suffix.lower() in (".pt", ".pth") and p.is_file():
        if image_path is None:
            raise SchemaError(f"{p}: a checkpoint needs the stimulus images to predict from")
        return CheckpointPredictions(p, stimuli, image_path, log_density=log_density)
    return read_predictions(p, stimuli)
