"""Non-local block, embedded-Gaussian version (Wang et al., CVPR 2018, arXiv:1711.07971)."""

from __future__ import annotations

from torch import Tensor, nn

from saliency.models.blocks._base import BLOCKS, attend, received_attention, wants_map


@BLOCKS.register("non_local")
class NonLocalBlock(nn.Module):
    """Non-local block (embedded Gaussian): every position attends to every other one.

    ``y_i = Σ_j softmax_j(θ(x_i)ᵀ φ(x_j)) g(x_j)``, ``z = W_z(y) + x`` with θ, φ, g 1×1 convs to
    ``inner = max(1, C // 2)`` channels and W_z a 1×1 conv followed by BatchNorm whose γ is
    zero-initialised, so the block is exactly the identity at initialisation (paper §4.1).
    No 1/√d scaling (embedded Gaussian as published).
    ``self.attention``: mean attention each position receives, (B, 1, H, W), sums to 1 over H·W.
    Cost: O((H·W)²·C) time and O((H·W)²) memory — use it on low-resolution stages.
    ``norm="none"`` replaces the BN by zero-initialising W_z (usable at batch 1 with 1×1 maps in training).
    """

    def __init__(self, channels: int, inner: int | None = None, norm: str = "bn",
                 record_attention: bool | None = None) -> None:
        super().__init__()
        inner = inner or max(1, channels // 2)
        self.theta = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Conv2d(channels, inner, 1, bias=False)  # a key bias cancels in the softmax
        self.g = nn.Conv2d(channels, inner, 1)
        self.w_z = nn.Conv2d(inner, channels, 1)
        if norm == "bn":
            self.norm: nn.Module = nn.BatchNorm2d(channels)
            nn.init.zeros_(self.norm.weight)
        elif norm == "none":
            self.norm = nn.Identity()
            nn.init.zeros_(self.w_z.weight)
            nn.init.zeros_(self.w_z.bias)
        else:
            raise ValueError(f"norm must be 'bn' or 'none', got {norm!r}")
        self.record_attention = record_attention
        self.attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        q = self.theta(x).flatten(2).transpose(1, 2)  # (B, N, inner)
        k = self.phi(x).flatten(2).transpose(1, 2)
        v = self.g(x).flatten(2).transpose(1, 2)
        y, weights = attend(q, k, v, scale=1.0, need_weights=wants_map(self))
        self.attention = None  # fused path: no map (never a stale one)
        if weights is not None:
            self.attention = received_attention(weights).detach().reshape(b, 1, h, w)
        y = y.transpose(1, 2).reshape(b, -1, h, w)
        return x + self.norm(self.w_z(y))
