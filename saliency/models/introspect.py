"""Looking inside a network: attention maps, parameter and multiply-add counts, CPU latency."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import numpy as np


def attention_maps(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` (no grad) and collect every attention map its blocks computed.

    Blocks that compute an attention map store the last one in ``self.attention`` (team contract §4);
    a forward hook on each such module copies it right after the module ran, so a block used twice keeps
    the last call. A map re-exposed by a wrapper (a transformer block's ``attention`` is its mixer's) is
    listed once, under the wrapper's path. Keys are module paths (``"encoder.stage_blocks.3"``, ``"decoder.bottleneck"``);
    values are detached tensors with whatever shape the block defines (e.g. (B, 1, h, w) spatial maps,
    (B, C) channel weights, (B, heads, N, N) token attention). Empty when the model has no attention.
    """
    found: dict[str, torch.Tensor] = {}
    owner: dict[int, str] = {}  # id of a stored attention tensor → the key it was recorded under
    handles = []

    def make_hook(name: str):
        def hook(module: nn.Module, _inputs: object, _output: object) -> None:
            att = getattr(module, "attention", None)
            if isinstance(att, torch.Tensor):
                # a wrapper re-exposing its sub-module's map (TransformerBlock → mixer) runs its hook after
                # the sub-module's: keep the one map, under the outer (block) name
                previous = owner.get(id(att))
                if previous is not None:
                    found.pop(previous, None)
                owner[id(att)] = name
                found[name] = att.detach().clone()
        return hook

    for name, module in model.named_modules():
        # every module is hooked: a block may only create ``self.attention`` in its first forward
        if name and not isinstance(module, (nn.ModuleList, nn.ModuleDict)):
            handles.append(module.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return found


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, height: int = 288, width: int = 384) -> int:
    """Multiply-accumulates of one forward pass on a (1, 3, height, width) input.

    Counted by :func:`saliency.models.blocks.cost.forward_macs` (convolutions, linear layers, matmuls and
    attention kernels; FLOPs = 2 × MACs); element-wise ops are not counted, as is customary.
    """
    from saliency.models.blocks.cost import forward_macs

    was_training = model.training
    model.eval()
    try:
        return forward_macs(model, torch.zeros(1, 3, height, width))
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class Latency:
    """CPU inference timing: median seconds per batch and images per second."""

    batch: int
    height: int
    width: int
    median_s: float
    images_per_s: float
    repeats: int


def measure_latency(model: nn.Module, *, batch: int = 1, height: int = 288, width: int = 384,
                    warmup: int = 2, repeats: int = 5, threads: int | None = None) -> Latency:
    """Median wall time of ``model(x)`` in eval mode under ``torch.inference_mode`` on a random batch
    (``threads``: torch threads for the measurement only; the caller's setting is restored)."""
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    was_training = model.training
    model.eval()
    x = torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(0))
    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
        torch.set_num_threads(old_threads)   # the caller's thread count is not ours to change
    times.sort()
    med = times[len(times) // 2]
    return Latency(batch, height, width, med, batch / med, repeats)


def attention_summary(config) -> str:
    """Short text of a :class:`~saliency.models.ModelConfig`'s attention: ``"cbam@8,16,32 + mhsa bottleneck"``.

    Stage strides are 2, 4, 8, 16, 32 (one block name per encoder stage); ``"-"`` when there is none.
    """
    from saliency.models.encoders import N_STAGES

    strides = [2 ** (i + 1) for i in range(N_STAGES)]
    parts: list[str] = []
    used: dict[str, list[int]] = {}
    for name, stride in zip(config.blocks, strides, strict=True):
        if name != "none":
            used.setdefault(name, []).append(stride)
    parts += [f"{name}@{','.join(str(s) for s in at)}" for name, at in used.items()]
    if config.bottleneck != "none":
        parts.append(f"{config.bottleneck} bottleneck")
    if getattr(config, "skip_block", "none") != "none":
        parts.append(f"{config.skip_block} skips")
    if getattr(config, "context", "none") != "none":
        parts.append(f"{config.context} context")
    if config.fusion:
        parts.append("scale fusion")
    if config.stn:
        parts.append("STN front-end")
    return " + ".join(parts) or "-"


def describe_model(name: str, *, height: int = 288, width: int = 384, latency: bool = False, batch: int = 1,
                   repeats: int = 5, threads: int | None = None) -> dict:
    """One zoo entry as a plain dict: name, task, encoder, attention, priors, pretrained, description,
    parameters, multiply-adds at (1, 3, height, width) and, with ``latency``, CPU eval-mode latency.

    The network is built with ``pretrained=False`` (the counts and the timing do not depend on the
    weights' values, and no weights file is needed). ``latency_ms`` is the median time of one batch of
    ``batch`` images (ms); ``images_per_s`` = batch / median time.
    """
    from saliency.models.zoo import build_model, get_config

    cfg = get_config(name)
    model = build_model(cfg, pretrained=False).eval()
    out: dict = {
        "name": name,
        "task": cfg.task,
        "encoder": cfg.encoder if cfg.encoder_width is None else f"{cfg.encoder} ×{cfg.encoder_width:g}",
        "attention": attention_summary(cfg),
        "priors": cfg.n_priors,
        "pretrained": cfg.pretrained,
        "description": cfg.description,
        "parameters": count_parameters(model),
        "macs": count_macs(model, height, width),
        "height": height,
        "width": width,
    }
    if latency:
        lat = measure_latency(model, batch=batch, height=height, width=width, repeats=repeats, threads=threads)
        out |= {"batch": batch, "latency_ms": lat.median_s * 1e3, "images_per_s": lat.images_per_s,
                "threads": torch.get_num_threads()}
    return out


def spatial_attention(maps: dict[str, torch.Tensor], *, item: int = 0,
                      max_channels: int = 8) -> list[tuple[str, torch.Tensor]]:
    """The spatial attention maps of :func:`attention_maps`' result, as (label, (h, w) float tensor) pairs.

    ``item``: which image of the batch. A (B, 1, h, w) map gives one pair labelled with its module path;
    a (B, K, h, w) map with 1 < K ≤ ``max_channels`` (e.g. the per-scale weights of the multi-scale fusion,
    which sum to 1 over K) gives K pairs ``"path[k]"``; more channels are averaged into one pair. Maps
    without a spatial extent (channel weights (B, C, 1, 1) of SE/ECA, branch weights (B, M, C) of SK) are
    left out: they have nothing to draw on the image. Sorted by module path.
    """
    out: list[tuple[str, torch.Tensor]] = []
    for name in sorted(maps):
        t = maps[name]
        if t.dim() != 4 or t.shape[-2] * t.shape[-1] <= 1:
            continue
        a = t[item].detach().float().cpu()
        if a.shape[0] == 1:
            out.append((name, a[0]))
        elif a.shape[0] <= max_channels:
            out.extend((f"{name}[{k}]", a[k]) for k in range(a.shape[0]))
        else:
            out.append((name, a.mean(dim=0)))
    return out


def attention_on_image(model: nn.Module, image: np.ndarray, canvas: tuple[int, int] | None = None,
                       pad_multiple: int = 32) -> list[tuple[str, np.ndarray]]:
    """Spatial attention maps of ``model`` on one (h, w, 3) uint8 RGB image, at the image's size.

    With ``canvas`` = (H, W) (a trained model's ``model.canvas``) the image is letterboxed onto the canvas
    exactly as for prediction (:class:`saliency.datasets.geometry.Letterbox`); else it is fed at its own
    size. Each map of :func:`spatial_attention` covers the network's input padded to a multiple of
    ``pad_multiple`` (bottom/right); it is upsampled bilinearly to that padded size, cropped to the input
    and mapped back to the image (letterbox margins cut away). Returns (module path, (h, w) float32) pairs.
    """
    import numpy as np
    import torch.nn.functional as F

    from saliency.datasets.images import normalize_image

    h, w = image.shape[:2]
    lb = None
    if canvas is not None:
        from saliency.datasets.geometry import Letterbox

        lb = Letterbox.fit(h, w, int(canvas[0]), int(canvas[1]))
        image = lb.image_to_canvas(np.asarray(image))
    ih, iw = image.shape[:2]
    ph, pw = -(-ih // pad_multiple) * pad_multiple, -(-iw // pad_multiple) * pad_multiple
    maps = attention_maps(model, normalize_image(image)[None])
    out = []
    for name, a in spatial_attention(maps):
        up = F.interpolate(a[None, None], size=(ph, pw), mode="bilinear", align_corners=False)[0, 0, :ih, :iw]
        m = up.numpy().astype(np.float32)
        out.append((name, lb.map_to_stimulus(m) if lb is not None else m))
    return out
