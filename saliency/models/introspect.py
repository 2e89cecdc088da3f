"""Looking inside a network: attention maps, parameter and multiply-add counts, CPU latency."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn


def attention_maps(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` (no grad) and collect every attention map its blocks computed.

    Blocks that compute an attention map store the last one in ``self.attention`` (team contract §4);
    a forward hook on each such module copies it right after the module ran, so a block used twice keeps
    the last call. Keys are module paths (``"encoder.stage_blocks.3"``, ``"decoder.bottleneck"``);
    values are detached tensors with whatever shape the block defines (e.g. (B, 1, h, w) spatial maps,
    (B, C) channel weights, (B, heads, N, N) token attention). Empty when the model has no attention.
    """
    found: dict[str, torch.Tensor] = {}
    handles = []

    def make_hook(name: str):
        def hook(module: nn.Module, _inputs: object, _output: object) -> None:
            att = getattr(module, "attention", None)
            if isinstance(att, torch.Tensor):
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

    Counted with ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, linear layers, matmuls and
    attention kernels; FLOPs = 2 × MACs); element-wise ops are not counted, as is customary.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, height, width)
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


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
    """Median wall time of ``model(x)`` in eval mode under ``torch.inference_mode`` on a random batch."""
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
    times.sort()
    med = times[len(times) // 2]
    return Latency(batch, height, width, med, batch / med, repeats)
