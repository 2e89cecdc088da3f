"""Residual Attention module (Wang et al., CVPR 2017, arXiv:1704.06904)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from saliency.models.blocks._base import BLOCKS


class PreActResidual(nn.Module):
    """Pre-activation residual unit BN-ReLU-conv3×3-BN-ReLU-conv3×3 (He et al. 2016); the last conv is
    zero-initialised so the unit starts as the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, bias=False))
        nn.init.zeros_(self.body[-1].weight)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class _Hourglass(nn.Module):
    """Soft-mask trunk: max-pool down, residual unit, recurse, bilinear up + skip (paper Fig. 2)."""

    def __init__(self, channels: int, depth: int) -> None:
        super().__init__()
        self.down = nn.MaxPool2d(3, stride=2, padding=1)
        self.pre = PreActResidual(channels)
        self.inner = _Hourglass(channels, depth - 1) if depth > 1 else None
        self.skip = PreActResidual(channels) if depth > 1 else None
        self.post = PreActResidual(channels)

    def forward(self, x: Tensor) -> Tensor:
        y = self.pre(self.down(x))
        if self.inner is not None and self.skip is not None:
            y = self.inner(y) + self.skip(y)
        y = self.post(y)
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


@BLOCKS.register("residual_attention")
class ResidualAttention(nn.Module):
    """Residual attention module: trunk T(x) (2 residual units) and soft mask M(x) ∈ (0, 1) from an
    hourglass (``depth`` max-pool/upsample levels, then BN-ReLU-1×1-BN-ReLU-1×1-sigmoid);
    ``out = (1 + M) · T`` (attention residual learning, paper eq. 3). Shape-preserving and stackable
    (stack several in ``nn.Sequential``).

    Init: trunk units start as the identity and the mask's last 1×1 conv has zero weights and bias
    ``mask_bias`` (default 0), so M ≡ σ(mask_bias) and the module computes exactly ``(1 + σ(mask_bias))·x``
    at initialisation: ``1.5 · x`` by default — the identity up to the constant gain of the (1 + M) form,
    which the paper keeps. Inside a pretrained encoder (where downstream BN running statistics expect the
    original scale) use e.g. ``mask_bias=-4`` to start at 1.018·x (the mask still gets σ'(−4) ≈ 0.018 of
    the gradient).
    ``self.attention``: the soft mask averaged over channels, (B, 1, H, W), in (0, 1).
    Cost: ≈ 2·2·9·C²·H·W MACs (trunk) + ≈ 9·C²·H·W·(2/4 + 2/16 + …) (mask) + 2·C²·H·W.
    """

    def __init__(self, channels: int, depth: int = 2, mask_bias: float = 0.0) -> None:
        super().__init__()
        self.trunk = nn.Sequential(PreActResidual(channels), PreActResidual(channels))
        self.hourglass = _Hourglass(channels, depth)
        self.mask_head = nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 1))
        nn.init.zeros_(self.mask_head[-1].weight)
        nn.init.constant_(self.mask_head[-1].bias, mask_bias)
        self.attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        m = self.mask_head(self.hourglass(x)).sigmoid()
        self.attention = m.mean(dim=1, keepdim=True).detach()
        return (1 + m) * self.trunk(x)
