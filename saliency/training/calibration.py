"""Probability calibration of a SOD model on the validation split (minimum MAE).

SOD networks trained with area losses on ~200 images tend to be over- or under-confident, and MAE —
the mean |p − mask| over all pixels — punishes every half-sure pixel. A two-parameter logit
re-scaling ``p = sigmoid(a·z + b)`` (Platt scaling, here fitted for MAE rather than likelihood) is
fitted on the validation split at the images' original resolution, with the flip TTA of the run when
it is on, and stored in the model's ``SODHead.calibration`` buffer, so checkpoints, ``saliency predict``
and exports all use it. The identity (a, b) = (1, 0) is in the grid: the validation MAE never gets worse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from saliency.datasets import Letterbox, normalize_image, read_rgb
from saliency.errors import ConfigError

SCALES = np.round(np.arange(0.5, 6.01, 0.25), 2)
BIASES = np.round(np.arange(-2.0, 2.01, 0.25), 2)


@dataclass(frozen=True)
class Calibration:
    """Fitted logit scale ``a`` and bias ``b``; validation MAE before (a=1, b=0) and after; n images."""

    a: float
    b: float
    mae_before: float
    mae_after: float
    n_images: int

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "val_mae_before": self.mae_before, "val_mae_after": self.mae_after,
                "n_images": self.n_images,
                "objective": "mean per-image MAE at original resolution, 8-bit map min–max normalised (PySODMetrics)",
                "grid": {"a": SCALES.tolist(), "b": BIASES.tolist()}}


@torch.no_grad()
def _view_logits(model: nn.Module, image: np.ndarray, canvas: tuple[int, int], device: torch.device,
                 tta_flip: bool, step: int) -> list[np.ndarray]:
    """The uncalibrated logits of each view (image, and its mirror when ``tta_flip``) at original
    resolution, subsampled every ``step`` pixels (float32)."""
    h, w = image.shape[:2]
    lb = Letterbox.fit(h, w, *canvas)
    x = normalize_image(lb.image_to_canvas(image))[None].to(device)
    views = [x, x.flip(-1)] if tta_flip else [x]
    head = model.head
    saved = head.calibration.clone()
    head.calibration.copy_(torch.tensor([1.0, 0.0]))
    try:
        outs = []
        for k, v in enumerate(views):
            z = model(v)[0, 0].float()
            z = z.flip(-1) if k == 1 else z
            outs.append(lb.map_to_stimulus(z.cpu().numpy())[::step, ::step].astype(np.float32))
        return outs
    finally:
        head.calibration.copy_(saved)


def pysod_normalise(prob: np.ndarray) -> np.ndarray:
    """What the SOD metrics score (PySODMetrics ``prepare_data``): the map as 8-bit grey levels, /255,
    min–max normalised per image (unchanged when constant)."""
    q = np.round(np.clip(prob, 0, 1) * 255) / 255
    lo, hi = float(q.min()), float(q.max())
    return (q - lo) / (hi - lo) if hi > lo else q


def fit_calibration(model: nn.Module, folder: Any, stimuli: Sequence[str], canvas: tuple[int, int],
                    device: torch.device, *, tta_flip: bool = False, step: int = 2) -> Calibration:
    """Grid-search (a, b) over :data:`SCALES` × :data:`BIASES` minimising the mean per-image MAE of
    ``stimuli`` (a SOD folder's images and masks) as the SOD metrics compute it (8-bit map, min–max
    normalised per image: :func:`pysod_normalise`); pixels subsampled every ``step`` px per axis."""
    if not isinstance(getattr(getattr(model, "head", None), "calibration", None), torch.Tensor):
        raise ConfigError("train.calibrate: the model has no SOD head with a calibration (use a zoo SOD model)")
    model.eval()
    per: list[tuple[list[np.ndarray], np.ndarray]] = []
    for name in stimuli:
        views = _view_logits(model, read_rgb(folder.image_path(name)), canvas, device, tta_flip, step)
        per.append((views, np.asarray(folder.mask(name), np.float32)[::step, ::step]))

    def mae(a: float, b: float) -> float:
        errs = []
        for views, m in per:
            p = np.mean([1 / (1 + np.exp(-(a * z + b))) for z in views], axis=0)
            errs.append(float(np.abs(pysod_normalise(p) - m).mean()))
        return float(np.mean(errs))

    before = mae(1.0, 0.0)
    best = (before, 1.0, 0.0)
    for a in SCALES:
        for b in BIASES:
            v = mae(float(a), float(b))
            if v < best[0] - 1e-9:
                best = (v, float(a), float(b))
    return Calibration(a=best[1], b=best[2], mae_before=before, mae_after=best[0], n_images=len(per))


def apply_calibration(model: nn.Module, cal: Calibration) -> None:
    """Store (a, b) in the model's SOD head (``head.calibration``)."""
    model.head.calibration.copy_(torch.tensor([cal.a, cal.b], dtype=model.head.calibration.dtype))
