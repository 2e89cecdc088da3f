"""Validation during training (canvas resolution) and final scoring at the stimuli's original size.

Validation (every epoch, fast): per-image KL, CC, NSS, SIM of the predicted log-density against the
letterboxed target density and fixation counts (the definitions of ``saliency.training.losses``);
for SOD: MAE and the structure loss. The final evaluation maps every prediction back to the stimulus'
original resolution (``Letterbox.log_density_to_stimulus``: area-preserving) and scores it with
:func:`saliency.metrics.evaluate` (fixations) or :func:`saliency.metrics.sod.evaluate_sod` (SOD).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from saliency.datasets import read_rgb
from saliency.training import losses as L
from saliency.training.inference import model_tta, to_canvas, to_stimulus, with_tta


def _forward(model: nn.Module, x: torch.Tensor, device: torch.device, amp_dtype: torch.dtype | None,
             channels_last: bool) -> torch.Tensor:
    x = x.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        return model(x).float()


@torch.no_grad()
def validate(model: nn.Module, loader: Iterable[dict], device: torch.device, task: str,
             amp_dtype: torch.dtype | None = None, channels_last: bool = False) -> dict[str, float]:
    """Mean per-image validation metrics on the canvas (fixation: kl, cc, nss, sim; sod: mae, loss)."""
    was = model.training
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for batch in loader:
        pred = _forward(model, batch["image"], device, amp_dtype, channels_last)
        b = pred.shape[0]
        for i in range(b):
            p = pred[i:i + 1]
            if task == "fixation":
                dens = batch["density"][i:i + 1].to(device)
                fmap = batch["fixation_map"][i:i + 1].to(device)
                vals = {"kl": L.kl_div(p, dens), "cc": L.cc(p, dens), "sim": L.sim(p, dens)}
                if float(fmap.sum()) > 0:
                    vals["nss"] = L.nss(p, None, fmap)
            else:
                m = batch["mask"][i:i + 1].to(device)
                vals = {"mae": (torch.sigmoid(p) - m).abs().mean(), "loss": L.structure_loss(p, m)}
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        n += b
    model.train(was)
    return {k: v / max(n, 1) for k, v in sorted(sums.items())}


@torch.no_grad()
def predict_array(model: nn.Module, image: np.ndarray, canvas: tuple[int, int], device: torch.device,
                  task: str, amp_dtype: torch.dtype | None = None, channels_last: bool = False,
                  tta_flip: bool | None = None) -> np.ndarray:
    """One (h, w, 3) uint8 image → (h, w) float32 map at its original size.

    fixation: a probability map (sums to 1); sod: per-pixel probabilities in [0, 1].
    ``tta_flip`` (SOD; default: the model's ``tta_flip`` attribute, set by ``load_model``): average the
    probabilities of the image and of its horizontal mirror (mirrored back); the model's ``tta_scales``
    (SOD; default (1.0,)) add resized canvases to the average (:func:`saliency.training.inference.tta_views`).
    """
    lb, x = to_canvas(image, canvas)
    if task != "sod":
        return to_stimulus(_forward(model, x, device, amp_dtype, channels_last)[0, 0].cpu().numpy(), lb, task)
    flip, scales = model_tta(model)
    flip = flip if tta_flip is None else tta_flip

    def run(a: np.ndarray) -> np.ndarray:
        return _forward(model, torch.from_numpy(a), device, amp_dtype, channels_last).cpu().numpy()
    return to_stimulus(with_tta(run, flip=flip, scales=scales)(x.numpy())[0, 0], lb, task)


def predict_maps_iter(model: nn.Module, image_paths: Sequence[str | Path], canvas: tuple[int, int],
                      device: torch.device | str = "cpu", task: str | None = None) -> Iterator[tuple[Path, np.ndarray]]:
    """Yield (path, map at the image's original size) for each image (see :func:`predict_array`)."""
    device = torch.device(device)
    task = task or getattr(model, "task", "fixation")
    model.eval()
    for p in image_paths:
        p = Path(p)
        yield p, predict_array(model, read_rgb(p), canvas, device, task)



def evaluate_fixation(model: nn.Module, source: Any, stimuli: Sequence[str], canvas: tuple[int, int],
                      device: torch.device, amp_dtype: torch.dtype | None = None,
                      channels_last: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score ``stimuli`` at their original size with :func:`saliency.metrics.evaluate` (default metrics).

    A source without a fixation table (an in-memory source: no sAUC negatives, no IG baseline) is scored
    on NSS, CC, KL and SIM by the same metric implementations. Returns (per_image, summary).
    """
    from saliency.metrics.evaluation import evaluate, score_image, summarise
    from saliency.metrics.streaming import build_metrics

    model.eval()
    preds: dict[str, np.ndarray] = {}
    for name in stimuli:
        gt = source.load(name)
        img = getattr(gt, "image", None)
        img = read_rgb(gt.image_path) if img is None else np.asarray(img)
        preds[name] = predict_array(model, img, canvas, device, "fixation", amp_dtype, channels_last)
    if hasattr(source, "manifest") and hasattr(source, "fixations"):  # a shard set
        res = evaluate(preds, source, stimuli=list(stimuli), log_density=False)
        return res.per_image, dict(res.summary)
    ms = build_metrics(["nss", "cc", "kl", "sim"])
    rows = []
    for name in stimuli:
        gt = source.load(name)
        rows.append({"stimulus": name, **score_image(
            ms, preds[name], x_px=gt.fixations["x"].to_numpy(np.float64),
            y_px=gt.fixations["y"].to_numpy(np.float64), density=np.asarray(gt.density), neg=None, baseline=None)})
    per = pd.DataFrame(rows)
    summary, _ = summarise(ms, per, ms[0].convention.name)
    return per, summary


def evaluate_sod(model: nn.Module, folder: Any, stimuli: Sequence[str], canvas: tuple[int, int],
                 device: torch.device, tta_flip: bool | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every SOD metric of :func:`saliency.metrics.sod.evaluate_sod` at the original resolution
    (predictions as uint8 probabilities × 255, PySODMetrics conventions); per image: MAE and S-measure.
    ``tta_flip``: see :func:`predict_array` (None = the model's own setting)."""
    from saliency.metrics.sod import evaluate_sod as score_sod

    model.eval()

    def pairs():
        for name in stimuli:
            prob = predict_array(model, read_rgb(folder.image_path(name)), canvas, device, "sod", tta_flip=tta_flip)
            yield (prob * 255).round().astype(np.uint8), folder.mask(name).astype(np.uint8) * 255

    per_image: list[dict] = []
    summary = dict(score_sod(pairs(), per_image))
    summary["implementation"] = "saliency.metrics.sod (PySODMetrics conventions)"
    return pd.DataFrame([{"stimulus": n, **v} for n, v in zip(stimuli, per_image, strict=True)]), summary
