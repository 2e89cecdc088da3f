"""MobileNetV2 encoder (Sandler et al., CVPR 2018), small widths trained from scratch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from saliency.errors import ConfigError
from saliency.models.encoders.base import ENCODERS, N_STAGES, STRIDES, Encoder, _stage_blocks


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class _ConvBNAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                                   nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_ConvBNAct(cin, mid, 1))
        layers += [_ConvBNAct(mid, mid, 3, stride, groups=mid), _ConvBNAct(mid, cout, 1, act=False)]
        self.conv = nn.Sequential(*layers)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.skip else y


# (expand, channels, repeats, stride) — Sandler et al. 2018, Table 2
_MBV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                  (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV2Backbone(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) body without the 1280-channel head; ``width`` multiplies channels."""

    def __init__(self, width: float = 0.5) -> None:
        super().__init__()
        cin = _make_divisible(32 * width)
        self.stem = _ConvBNAct(3, cin, 3, 2)
        stages: list[list[nn.Module]] = [[] for _ in range(N_STAGES)]
        stride_now = 2
        feat_ch = [cin] * N_STAGES
        for t, c, n, s in _MBV2_SETTINGS:
            cout = _make_divisible(c * width)
            for j in range(n):
                stride = s if j == 0 else 1
                stride_now *= stride
                level = STRIDES.index(stride_now)
                stages[level].append(_InvertedResidual(cin, cout, stride, t))
                feat_ch[level] = cout
                cin = cout
        self.stages = nn.ModuleList(nn.Sequential(*s) for s in stages)
        self.feature_channels = tuple(feat_ch)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


@ENCODERS.register("mobilenetv2")
class MobileNetV2Encoder(Encoder):
    """MobileNetV2 features at strides 2–32 (width 0.5: channels (8, 16, 16, 48, 160)); from scratch."""

    def __init__(self, blocks: Sequence[str | None] | None = None, *, pretrained: bool = False,
                 width: float = 0.5) -> None:
        super().__init__()
        if pretrained:
            raise ConfigError("mobilenetv2 has no shipped pretrained weights; use pretrained=False "
                              "(or weights_path= a local state-dict file)")
        self.backbone = MobileNetV2Backbone(width)
        self.out_channels = self.backbone.feature_channels
        self.stage_blocks = _stage_blocks(blocks, self.out_channels)

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone(x)
