"""ResNet-style encoder (He et al., CVPR 2016), small widths trained from scratch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError
from saliency.models.encoders.base import ENCODERS, Encoder, _stage_blocks


class _BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): two 3×3 convs, identity or 1×1-projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetBackbone(nn.Module):
    """ResNet-18-style body with base width ``int(64·width)``; stem 3×3 stride 2 (feature at stride 2),
    then four stages of ``depth[i]`` basic blocks at strides 4, 8, 16, 32."""

    def __init__(self, width: float = 0.25, depth: Sequence[int] = (1, 1, 1, 1)) -> None:
        super().__init__()
        base = max(8, int(64 * width))
        chans = (base // 2, base, base * 2, base * 4, base * 8)
        self.stem = nn.Sequential(nn.Conv2d(3, chans[0], 3, 2, 1, bias=False), nn.BatchNorm2d(chans[0]),
                                  nn.ReLU(inplace=True))
        layers = []
        cin = chans[0]
        for i, n in enumerate(depth):
            cout = chans[i + 1]
            layers.append(nn.Sequential(*[_BasicBlock(cin if j == 0 else cout, cout, 2 if j == 0 else 1)
                                          for j in range(n)]))
            cin = cout
        self.layers = nn.ModuleList(layers)
        self.feature_channels = chans

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        out = [x]
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


@ENCODERS.register("resnet")
class ResNetEncoder(Encoder):
    """ResNet-style features at strides 2–32 (width 0.25: channels (8, 16, 32, 64, 128)); from scratch."""

    def __init__(self, blocks: Sequence[str | None] | None = None, *, pretrained: bool = False,
                 width: float = 0.25, depth: Sequence[int] = (1, 1, 1, 1)) -> None:
        super().__init__()
        if pretrained:
            raise ConfigError("resnet has no shipped pretrained weights; use pretrained=False "
                              "(or weights_path= a local state-dict file)")
        self.backbone = ResNetBackbone(width, depth)
        self.out_channels = self.backbone.feature_channels
        self.stage_blocks = _stage_blocks(blocks, self.out_channels)

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone(x)
