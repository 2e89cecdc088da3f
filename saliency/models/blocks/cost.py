"""Cost of a block: parameters, multiply-adds (counted, not estimated) and CPU time of one forward."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def forward_macs(module: nn.Module | Callable[..., Any], *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward (matmuls, convolutions, attention kernels): FLOPs / 2 as
    counted by :class:`torch.utils.flop_counter.FlopCounterMode`. Elementwise ops are not counted.

    The one MAC counter: ``saliency.models.count_macs`` (a whole model on one image) and the
    coarse-to-fine report use it."""
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
            "macs": forward_macs(block, x), "cpu_s": sorted(times)[len(times) // 2],
            "shape": f"{batch}x{channels}x{height}x{width}"}


def cost_table(channels: int = 256, height: int = 30, width: int = 40) -> str:
    """Markdown table of :func:`block_cost` for every registered block (one CPU thread)."""
    from saliency.models.blocks import BLOCKS

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = [f"| block | params | MMACs | CPU ms (1 thread) |  (1×{channels}×{height}×{width}, eval)",
                "|---|---:|---:|---:|"]
        for name in BLOCKS.names():
            r = block_cost(name, channels, height, width)
            rows.append(f"| {name} | {r['params']:,} | {r['macs'] / 1e6:,.1f} | {r['cpu_s'] * 1e3:.1f} |")
    finally:
        torch.set_num_threads(before)
    return "\n".join(rows)


if __name__ == "__main__":  # python -m saliency.models.blocks.cost [C H W]
    import sys

    print(cost_table(*(int(a) for a in sys.argv[1:4])))
