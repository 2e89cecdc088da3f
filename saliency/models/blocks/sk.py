"""Selective Kernel convolution (SKNet; Li et al., CVPR 2019, arXiv:1903.06586)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from saliency.models.blocks._base import BLOCKS


def _branch(channels: int, dilation: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


@BLOCKS.register("sk")
class SelectiveKernel(nn.Module):
    """Selective Kernel unit: parallel 3×3 and dilated 3×3 (5×5 receptive field) grouped-conv branches
    fused by a per-channel softmax over branches computed from their pooled sum.

    Split: ``U_m = ReLU(BN(conv3×3_dil=m(x)))``; fuse: ``z = ReLU(W_s GAP(Σ U_m))`` with width
    ``d = max(C // reduction, min_hidden)`` (r = 16, L = 32 as in the paper); select:
    ``a_m = softmax_m(A_m z)``, ``V = Σ a_m · U_m``. The block returns ``x + BN(conv1×1(V))`` with the final
    BN's γ zero-initialised (the SK unit sits in a residual bottleneck in SKNet), so it is exactly the
    identity at initialisation. Deviation: no BN inside the fuse MLP (it would fail at batch 1 in training).
    ``self.attention``: branch weights (B, M, C) — M = 2 branches, softmax over M.
    Cost: ≈ 2·9·C²/G·H·W + C²·H·W MACs (G = ``groups``, default gcd(C, 32)).
    """

    def __init__(self, channels: int, reduction: int = 16, min_hidden: int = 32, groups: int | None = None,
                 dilations: tuple[int, ...] = (1, 2)) -> None:
        super().__init__()
        groups = groups or math.gcd(channels, 32)
        hidden = max(channels // reduction, min_hidden)
        self.branches = nn.ModuleList([_branch(channels, d, groups) for d in dilations])
        self.fuse = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True))
        self.select = nn.Linear(hidden, channels * len(dilations))
        self.proj = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.norm.weight)
        self.attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        u = torch.stack([branch(x) for branch in self.branches], dim=1)  # (B, M, C, H, W)
        z = self.fuse(u.sum(dim=1).mean(dim=(2, 3)))  # (B, d)
        a = self.select(z).reshape(x.shape[0], len(self.branches), x.shape[1]).softmax(dim=1)  # (B, M, C)
        self.attention = a.detach()
        v = (u * a[..., None, None]).sum(dim=1)
        return x + self.norm(self.proj(v))
