"""Validation during training (canvas resolution) and final scoring at the stimuli's original size.

Validation (every epoch, fast): per-image KL, CC, NSS, SIM of the predicted log-density against the
letterboxed target density and fixation counts (the definitions of ``saliency.training.losses``);
for SOD: MAE and the structure loss. The final evaluation maps every prediction back to the stimulus'
original resolution (``Letterbox.log_density_to_stimulus``: area-preserving) and scores it with
``saliency.metrics.evaluate`` (contract 3) when available, else with the local definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from saliency.datasets import Letterbox, normalize_image, read_rgb
from saliency.training import losses as L


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
    probabilities of the image and of its horizontal mirror (mirrored back).
    """
    h, w = image.shape[:2]
    lb = Letterbox.fit(h, w, *canvas)
    x = normalize_image(lb.image_to_canvas(image))[None]
    out = _forward(model, x, device, amp_dtype, channels_last)[0, 0].cpu().numpy()
    if task == "fixation":
        return np.exp(lb.log_density_to_stimulus(out)).astype(np.float32)
    prob = 1 / (1 + np.exp(-out.astype(np.float64)))
    if getattr(model, "tta_flip", False) if tta_flip is None else tta_flip:
        flipped = _forward(model, x.flip(-1), device, amp_dtype, channels_last)[0, 0].flip(-1).cpu().numpy()
        prob = 0.5 * (prob + 1 / (1 + np.exp(-flipped.astype(np.float64))))
    return np.clip(lb.map_to_stimulus(prob.astype(np.float32)), 0, 1)


def predict_maps_iter(model: nn.Module, image_paths: Sequence[str | Path], canvas: tuple[int, int],
                      device: torch.device | str = "cpu", task: str | None = None) -> Iterator[tuple[Path, np.ndarray]]:
    """Yield (path, map at the image's original size) for each image (see :func:`predict_array`)."""
    device = torch.device(device)
    task = task or getattr(model, "task", "fixation")
    model.eval()
    for p in image_paths:
        p = Path(p)
        yield p, predict_array(model, read_rgb(p), canvas, device, task)


# ------------------------------------------------------------------------ local metric definitions
def _local_fixation_metrics(density: np.ndarray, gt_density: np.ndarray, x_px: np.ndarray,
                            y_px: np.ndarray) -> dict[str, float]:
    """CC, NSS, KL, SIM at original resolution (MIT-benchmark definitions; fallback only)."""
    s = density.astype(np.float64)
    g = gt_density.astype(np.float64)
    sn, gn = s / s.sum(), g / g.sum()
    cc = float(np.corrcoef(s.ravel(), g.ravel())[0, 1])
    kl = float(np.sum(gn * np.log(L.EPS_MIT + gn / (L.EPS_MIT + sn))))
    sim = float(np.minimum(sn, gn).sum())
    z = (s - s.mean()) / s.std()
    j = np.clip(np.floor(x_px).astype(int), 0, s.shape[1] - 1)
    i = np.clip(np.floor(y_px).astype(int), 0, s.shape[0] - 1)
    nss = float(z[i, j].mean()) if len(i) else float("nan")
    return {"cc": cc, "kl": kl, "nss": nss, "sim": sim}


def evaluate_fixation(model: nn.Module, source: Any, stimuli: Sequence[str], canvas: tuple[int, int],
                      device: torch.device, amp_dtype: torch.dtype | None = None,
                      channels_last: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score ``stimuli`` of a shard set at their original size. Returns (per_image, summary)."""
    model.eval()
    preds: dict[str, np.ndarray] = {}
    for name in stimuli:
        gt = source.load(name)
        img = getattr(gt, "image", None)
        img = read_rgb(gt.image_path) if img is None else np.asarray(img)
        preds[name] = predict_array(model, img, canvas, device, "fixation", amp_dtype, channels_last)
    if hasattr(source, "manifest") and hasattr(source, "fixations"):  # a real ShardSet
        try:
            from saliency.metrics import evaluate  # contract 3
        except ImportError:
            evaluate = None
        if evaluate is not None:
            res = evaluate(preds, source, stimuli=list(stimuli), log_density=False)
            return res.per_image, dict(res.summary)
    rows = []
    for name in stimuli:
        gt = source.load(name)
        m = _local_fixation_metrics(preds[name], np.asarray(gt.density), np.asarray(gt.fixations["x"]),
                                    np.asarray(gt.fixations["y"]))
        rows.append({"stimulus": name, **m})
    per = pd.DataFrame(rows)
    summary = {k: float(per[k].mean()) for k in ("cc", "kl", "nss", "sim")}
    summary.update(n_images=len(per), implementation="saliency.training (local fallback)",
                   convention="mit-definitions")
    return per, summary


def evaluate_sod(model: nn.Module, folder: Any, stimuli: Sequence[str], canvas: tuple[int, int],
                 device: torch.device, tta_flip: bool | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """MAE, max-F (β² = 0.3) and S-measure at original resolution (``saliency.metrics.sod`` when present).

    ``tta_flip``: see :func:`predict_array` (None = the model's own setting)."""
    model.eval()
    rows = []
    sod_metrics = None
    try:
        from saliency.metrics import sod as sod_metrics  # contract 3
    except ImportError:
        pass
    preds, gts = {}, {}
    for name in stimuli:
        prob = predict_array(model, read_rgb(folder.image_path(name)), canvas, device, "sod", tta_flip=tta_flip)
        preds[name], gts[name] = prob, folder.mask(name)
    if sod_metrics is not None and hasattr(sod_metrics, "evaluate_sod"):
        pairs = [((preds[n] * 255).round().astype(np.uint8), gts[n].astype(np.uint8) * 255) for n in stimuli]
        summary = dict(sod_metrics.evaluate_sod(pairs))
        summary["implementation"] = "saliency.metrics.sod (PySODMetrics conventions)"
        per = pd.DataFrame({"stimulus": list(stimuli),
                            "mae": [float(np.abs(preds[n].astype(np.float64) - gts[n]).mean()) for n in stimuli]})
        return per, summary
    # Local fallback: MAE per image; max-F over 256 thresholds of the dataset-mean P/R curve (PySODMetrics).
    thresholds = np.linspace(0, 1, 256)
    prec = np.zeros_like(thresholds)
    rec = np.zeros_like(thresholds)
    for name in stimuli:
        p = (preds[name] * 255).astype(np.uint8)
        g = gts[name]
        mae = float(np.abs(preds[name].astype(np.float64) - g).mean())
        rows.append({"stimulus": name, "mae": mae})
        hist_fg = np.cumsum(np.histogram(p[g], bins=256, range=(0, 256))[0][::-1])[::-1]
        hist_all = np.cumsum(np.histogram(p, bins=256, range=(0, 256))[0][::-1])[::-1]
        tp = hist_fg
        prec += np.where(hist_all > 0, tp / np.maximum(hist_all, 1), 0)
        rec += tp / max(int(g.sum()), 1)
    prec /= len(stimuli)
    rec /= len(stimuli)
    f = 1.3 * prec * rec / np.maximum(0.3 * prec + rec, 1e-12)
    per = pd.DataFrame(rows)
    return per, {"mae": float(per["mae"].mean()), "max_f": float(f.max()), "n_images": len(per),
                 "implementation": "saliency.training (local fallback; S-measure needs saliency.metrics.sod)"}
