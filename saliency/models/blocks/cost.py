"""Cost of a block: parameters, multiply-adds (counted, not estimated) and CPU time of one forward."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward (matmuls, convolutions, attention kernels): FLOPs / 2 as
    counted by :class:`torch.utils.flop_counter.FlopCounterMode`. Elementwise ops are not counted."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(*inputs)
    return int(counter.get_total_flops()) // 2


def block_cost(name: str, channels: int, height: int, width: int, *, batch: int = 1, repeats: int = 3,
               **kwargs: Any) -> dict[str, float | int | str]:
    """Parameters, MACs and median CPU seconds of one eval forward of block ``name`` on (B, C, H, W)."""
    from saliency.models.blocks import BLOCKS

    block = BLOCKS.get(name)(channels, **kwargs).eval()
    x = torch.randn(batch, channels, height, width)
    times = []
    with torch.no_grad():
        block(x)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            block(x)
            times.append(time.perf_counter() - t0)
    return {"block": name, "params": sum(p.numel() for p in block.parameters()),
            "macs": count_macs(block, x), "cpu_s": sorted(times)[len(times) // 2],
            "shape": f"{batch}x{channels}x{height}x{width}"}
