"""Encoder base class, the encoder registry, building by name and loading weight files.

Every encoder maps ImageNet-normalised RGB (B, 3, H, W) (mean 0.485, 0.456, 0.406; std 0.229, 0.224,
0.225 on [0, 1] pixels; H, W multiples of 32) to a list of feature maps at strides 2, 4, 8, 16, 32
(shallow to deep, as in segmentation_models_pytorch), exposing ``out_channels`` and ``strides``, and takes
one attention block name per stage (``blocks=("none", "se", "cbam", "none", "mhsa")``), built with
:func:`saliency.models.blocks.build_block` and applied to that stage's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from saliency.errors import ConfigError
from saliency.registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
N_STAGES = 5
STRIDES = (2, 4, 8, 16, 32)

ENCODERS: Registry = Registry("encoder")


def _stage_blocks(blocks: Sequence[str | None] | None, out_channels: Sequence[int]) -> nn.ModuleList:
    from saliency.models.blocks import build_block

    if blocks is None:
        blocks = ("none",) * len(out_channels)
    if len(blocks) != len(out_channels):
        raise ConfigError(f"blocks: expected one block name per encoder stage ({len(out_channels)}), "
                          f"got {len(blocks)}: {tuple(blocks)!r}")
    return nn.ModuleList(build_block(b, c) for b, c in zip(blocks, out_channels, strict=True))


class Encoder(nn.Module):
    """Base class: ``forward(x) -> list[Tensor]``, feature i has ``out_channels[i]`` channels and stride
    ``strides[i]`` relative to the input. Input H, W must be multiples of 32 (SaliencyNet pads)."""

    out_channels: tuple[int, ...]
    strides: tuple[int, ...] = STRIDES

    #: the module whose state dict is exchanged with weight files (see :func:`load_encoder_weights`)
    backbone: nn.Module
    #: keys a weight file may carry that the encoder deliberately drops (e.g. a classifier head)
    ignored_weight_prefixes: tuple[str, ...] = ()

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.stages(x)
        # attention blocks get standard-contiguous tensors (the backbone may run channels-last)
        return [f if isinstance(att, nn.Identity) else att(f.contiguous())
                for att, f in zip(self.stage_blocks, feats, strict=True)]


def build_encoder(name: str, blocks: Sequence[str | None] | None = None, *, pretrained: bool = False,
                  width: float | None = None) -> Encoder:
    """Build the encoder registered as ``name`` (see :data:`ENCODERS`)."""
    factory = ENCODERS.get(name)
    kw = {} if width is None else {"width": width}
    return factory(blocks, pretrained=pretrained, **kw)


def load_encoder_weights(encoder: Encoder, path: str | Path) -> Encoder:
    """Load a local state-dict file (``torch.load(weights_only=True)``) into ``encoder.backbone``.

    Accepted key layouts: the backbone's own keys (e.g. the ``efficientnet-lite0`` file), or a whole
    encoder / SaliencyNet state dict (keys under ``backbone.`` / ``encoder.backbone.``). Keys under
    ``encoder.ignored_weight_prefixes`` (a classifier head) are dropped. Any other mismatch — missing keys,
    unexpected keys, shape differences — raises ConfigError listing them.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"encoder weights file not found: {path}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path}: not a loadable state dict ({type(exc).__name__}: {exc})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ConfigError(f"{path}: expected a dict of tensors (a state dict), got {type(sd).__name__}")
    for prefix in ("encoder.backbone.", "backbone."):
        if any(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
            break
    sd = {k: v for k, v in sd.items() if not k.startswith(encoder.ignored_weight_prefixes)}
    own = encoder.backbone.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shape = sorted(f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
                   for k in set(own) & set(sd) if sd[k].shape != own[k].shape)
    if missing or unexpected or shape:
        def _fmt(items: list[str]) -> str:
            return ", ".join(items[:12]) + (f" … (+{len(items) - 12} more)" if len(items) > 12 else "")
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {_fmt(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_fmt(unexpected)}")
        if shape:
            parts.append(f"{len(shape)} shape mismatches: {_fmt(shape)}")
        raise ConfigError(f"{path}: weights do not match encoder {type(encoder).__name__}: " + "; ".join(parts))
    encoder.backbone.load_state_dict(sd, strict=True)
    return encoder
