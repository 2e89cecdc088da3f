"""Building the network a run trains, and rebuilding it from a checkpoint.

``model.name`` is a zoo name of ``saliency.models.MODELS`` (``"default"`` → the task's default model),
built with ``saliency.models.build_model(name, **options)``; or ``"tiny"``, a three-layer network with
the same input/output contract, used by tests and the CI smoke recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class TinySaliencyNet(nn.Module):
    """A 3-conv network with the zoo models' interface: (B, 3, H, W) → (B, 1, H, W) log-density or SOD logits.

    Three stride-2 convolutions, a 1×1 readout, bilinear upsampling to the input size, plus a learned
    per-canvas-size-free centre prior: an isotropic Gaussian of learned width on normalised coordinates.
    """

    def __init__(self, task: str = "fixation", width: int = 8) -> None:
        super().__init__()
        self.task = task
        self.width = width
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Dropout2d(0.1),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        )
        self.readout = nn.Conv2d(width, 1, 1)
        self.log_prior_scale = nn.Parameter(torch.zeros(()))

    @property
    def config(self) -> dict[str, Any]:
        return {"name": "tiny", "task": self.task, "width": self.width}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        y = F.interpolate(self.readout(self.features(x)), size=(h, w), mode="bilinear", align_corners=False)
        if self.task == "sod":
            return y
        yy = torch.linspace(-1, 1, h, device=x.device, dtype=y.dtype)[:, None]
        xx = torch.linspace(-1, 1, w, device=x.device, dtype=y.dtype)[None, :]
        y = y - (yy.square() + xx.square()) * self.log_prior_scale.exp()
        return torch.log_softmax(y.flatten(1), dim=1).view_as(y)


def build_network(name: str, options: Mapping[str, Any], task: str) -> nn.Module:
    """Build ``name`` (zoo name, ``"default"`` or ``"tiny"``) for ``task`` with ``options`` overrides."""
    if name == "tiny":
        return TinySaliencyNet(task=task, **dict(options))
    from saliency import models

    if name == "default":
        name = models.DEFAULT_FIXATION_MODEL if task == "fixation" else models.DEFAULT_SOD_MODEL
    return models.build_model(name, **dict(options))


def model_spec(model: nn.Module, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint stores to rebuild the model: name, options and the model's own config."""
    cfg = getattr(model, "config", None)
    if hasattr(cfg, "to_dict"):
        cfg = cfg.to_dict()
    return {"name": name, "options": dict(options), "config": cfg if isinstance(cfg, dict) else None,
            "task": getattr(model, "task", "fixation")}


def rebuild_network(spec: Mapping[str, Any]) -> nn.Module:
    """Inverse of :func:`model_spec`: prefer the stored full model config, else name + options."""
    if spec["name"] == "tiny":
        cfg = spec.get("config") or {}
        return TinySaliencyNet(task=cfg.get("task", spec.get("task", "fixation")), width=cfg.get("width", 8))
    if spec.get("config"):
        from saliency import models

        cfg = dict(spec["config"])
        if "pretrained" in cfg:  # the checkpoint holds every weight: never read the ImageNet file again
            cfg["pretrained"] = False
        cfg.pop("weights_path", None)
        return models.build_model(models.ModelConfig.from_dict(cfg))
    return build_network(spec["name"], spec.get("options", {}), spec.get("task", "fixation"))


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DDP / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model
