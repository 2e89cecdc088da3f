"""Model configuration, the assembled network and the zoo of named configurations.

``build_model("effnet_lite0_cbam")`` or ``build_model(ModelConfig(...), pretrained=False)``.
A model = optional SpatialTransformer front-end → encoder (attention blocks per stage) → U-Net decoder
(optional transformer bottleneck / multi-scale attention fusion / global context from additive attention
pooling) → optional learned Gaussian prior maps → head (fixation log-density or SOD logits) → optional
recurrent ConvGRU refinement, at the input resolution; optionally run coarse-to-fine at inference
(dynamic capacity: a coarse pass on the half-size image, the full-resolution pass on the most salient cells).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError
from saliency.models.decoders import UNetDecoder
from saliency.models.encoders import ENCODERS, N_STAGES, build_encoder, load_encoder_weights
from saliency.models.heads import HEADS
from saliency.models.priors import GaussianPriorBank
from saliency.models.sod_decoder import SODDecoder
from saliency.registry import Registry
from saliency.tasks import TASKS

DECODERS = ("unet", "sod")
PAD_MULTIPLE = 32


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; TOML-friendly via :meth:`to_dict` / :meth:`from_dict`.

    task: "fixation" (log-density output) | "sod" (logits).
    encoder: a name in ``ENCODERS`` ("effnet_lite0", "effnet_lite1", "effnet_lite2", "mobilenetv2", "resnet").
    encoder_width: width multiplier (None = the encoder's default; the EfficientNet-Lite encoders only 1.0).
    pretrained: load the encoder's shipped ImageNet weights (the EfficientNet-Lite encoders only).
    weights_path: a local encoder state-dict file loaded after construction (overrides nothing else).
    blocks: one attention block name per encoder stage (strides 2, 4, 8, 16, 32); "none" = identity.
    bottleneck: block applied to the deepest feature before decoding ("mhsa" = transformer bottleneck).
    decoder: "unet" (``decoders.UNetDecoder``) | "sod" (``sod_decoder.SODDecoder``: attention on the
        skips, global context, deep-supervision side outputs).
    skip_block: attention block on each skip connection (decoder "sod" only).
    context: global-context block on the deepest feature (decoder "sod" only; "non_local" ≈ PiCANet's
        global contextual attention).
    decoder_channels: decoder widths, deep → shallow (L levels → output stride 32 / 2**L).
    fusion: fuse all decoder levels with ``MultiScaleAttentionFusion``.
    n_priors: number of learned Gaussian centre-bias maps concatenated before the head (0 = off).
    stn: a SpatialTransformer front-end on the input image.
    head_channels: hidden width of the head.
    global_context: additive attention pooling (Bahdanau) of the stride-32 feature into one vector per
        image, projected and added to every decoder output position (zero-initialised: starts as identity).
    refine_steps: ConvGRU refinement iterations of the head's scores given the decoder features
        (:class:`saliency.models.refine.RecurrentRefiner`; 0 = off; zero-initialised correction).
    coarse_to_fine: at inference (eval mode) run :class:`saliency.models.coarse_to_fine.CoarseToFine` with
        this network as both the coarse model (half-size image) and the fine model (the 4 most salient
        64-px cells at full resolution); training is unchanged.
    """

    name: str = "custom"
    task: str = "fixation"
    encoder: str = "effnet_lite0"
    encoder_width: float | None = None
    pretrained: bool = False
    weights_path: str | None = None
    blocks: tuple[str, ...] = ("none",) * N_STAGES
    bottleneck: str = "none"
    decoder: str = "unet"
    skip_block: str = "none"
    context: str = "none"
    decoder_channels: tuple[int, ...] = (64, 48, 32)
    fusion: bool = False
    n_priors: int = 0
    stn: bool = False
    head_channels: int = 16
    global_context: bool = False
    refine_steps: int = 0
    coarse_to_fine: bool = False
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(str(b) for b in self.blocks))
        object.__setattr__(self, "decoder_channels", tuple(int(c) for c in self.decoder_channels))
        if self.task not in TASKS:
            raise ConfigError(f"ModelConfig.task: expected one of {TASKS}, got {self.task!r}")
        if self.encoder not in ENCODERS:
            raise ConfigError(f"ModelConfig.encoder: unknown {self.encoder!r}; known: {', '.join(ENCODERS)}")
        if len(self.blocks) != N_STAGES:
            raise ConfigError(f"ModelConfig.blocks: expected {N_STAGES} names (one per encoder stage, "
                              f"'none' for no block), got {self.blocks!r}")
        from saliency.models.blocks import BLOCKS

        if self.decoder not in DECODERS:
            raise ConfigError(f"ModelConfig.decoder: expected one of {DECODERS}, got {self.decoder!r}")
        if self.decoder == "unet" and (self.skip_block != "none" or self.context != "none"):
            raise ConfigError("ModelConfig: skip_block and context need decoder = \"sod\"")
        for key, names in (("blocks", self.blocks), ("bottleneck", (self.bottleneck,)),
                           ("skip_block", (self.skip_block,)), ("context", (self.context,))):
            for b in names:
                if b != "none" and b not in BLOCKS:
                    raise ConfigError(f"ModelConfig.{key}: unknown attention block {b!r}; known: none, "
                                      f"{', '.join(BLOCKS.names())}")
        if not 1 <= len(self.decoder_channels) <= N_STAGES - 1 or min(self.decoder_channels) < 1:
            raise ConfigError(f"ModelConfig.decoder_channels: expected 1–{N_STAGES - 1} positive widths, "
                              f"got {self.decoder_channels!r}")
        if self.refine_steps < 0:
            raise ConfigError(f"ModelConfig.refine_steps must be ≥ 0, got {self.refine_steps}")
        if self.n_priors < 0 or self.head_channels < 1:
            raise ConfigError(f"ModelConfig: n_priors must be ≥ 0 and head_channels ≥ 1, got "
                              f"{self.n_priors}, {self.head_channels}")
        if self.encoder_width is not None and self.encoder_width <= 0:
            raise ConfigError(f"ModelConfig.encoder_width must be > 0, got {self.encoder_width}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, no None values: TOML has no null) — inverse of :meth:`from_dict`."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"ModelConfig: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def replace(self, **overrides: Any) -> ModelConfig:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"ModelConfig: unknown override keys {unknown}")
        return dataclasses.replace(self, **overrides)


class SaliencyNet(nn.Module):
    """(B, 3, H, W) ImageNet-normalised RGB → (B, 1, H, W).

    task "fixation": log-density (log-softmax over the H·W pixels of each image);
    task "sod": per-pixel logits. In training mode a decoder with side outputs (``decoder="sod"``) leaves
    its deep-supervision logits, upsampled and cropped like the output, in ``self.aux_outputs``
    (coarse → fine; empty otherwise). Any H, W ≥ 1: the input is zero-padded (bottom/right, i.e. with the
    ImageNet mean colour) to a multiple of 32 and the output cropped back before normalisation.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.task = config.task
        self.stn: nn.Module | None = None
        if config.stn:
            from saliency.models.blocks import SpatialTransformer

            self.stn = SpatialTransformer()
        self.encoder = build_encoder(config.encoder, config.blocks, pretrained=config.pretrained,
                                     width=config.encoder_width)
        if config.weights_path:
            load_encoder_weights(self.encoder, Path(config.weights_path))
        self.decoder: nn.Module
        if config.decoder == "sod":
            if config.bottleneck != "none" or config.fusion:
                raise ConfigError("ModelConfig: decoder \"sod\" has its own global context; use "
                                  "context instead of bottleneck, and no fusion")
            self.decoder = SODDecoder(self.encoder.out_channels, self.encoder.strides, config.decoder_channels,
                                      skip_block=config.skip_block, context=config.context)
        else:
            self.decoder = UNetDecoder(self.encoder.out_channels, self.encoder.strides,
                                       config.decoder_channels, bottleneck=config.bottleneck,
                                       fusion=config.fusion)
        self.aux_outputs: list[torch.Tensor] = []
        self.prior = GaussianPriorBank(config.n_priors) if config.n_priors > 0 else None
        self.head = HEADS[config.task](self.decoder.out_channels + config.n_priors, config.head_channels)
        self.context: GlobalContext | None = None
        if config.global_context:
            self.context = GlobalContext(self.encoder.out_channels[-1], self.decoder.out_channels)
        self.refiner: nn.Module | None = None
        if config.refine_steps > 0:
            from saliency.models.refine import RecurrentRefiner

            self.refiner = RecurrentRefiner(self.decoder.out_channels, hidden=8, steps=config.refine_steps)
        self.use_channels_last(True)

    def use_channels_last(self, enabled: bool = True) -> SaliencyNet:
        """Run the convolutional path (backbone, decoder convs, head) in channels-last memory format.

        About 2× faster on CPU (oneDNN depthwise convolutions) with identical results up to float
        rounding. Only the convolution weights of the backbone, the decoder up-blocks and the head are
        converted; attention blocks always receive standard-contiguous tensors. Values, state-dict keys
        and checkpoints are unaffected.

        Not enabled (the model stays contiguous) when the network has a convolution that oneDNN's
        channels-last kernels mishandle: torch 2.13 CPU, 1×1 convolution with stride 2 and 2–7 input
        channels — its weight-gradient kernel corrupts the heap (abort with 1 thread, endless spin with 2).
        Only very narrow encoders have one (e.g. ``resnet`` at ``encoder_width=0.125``), none in the zoo.
        """
        if enabled and any(_channels_last_unsafe(m) for m in self.modules()):
            enabled = False
        fmt = torch.channels_last if enabled else torch.contiguous_format
        for part in (self.encoder.backbone, self.decoder.blocks, self.head):
            for m in part.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.data = m.weight.data.contiguous(memory_format=fmt)
        self._channels_last = enabled
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.coarse_to_fine and not self.training:
            from saliency.models.coarse_to_fine import CoarseToFine, CoarseToFineConfig

            fixation = self.task == "fixation"
            cfg = CoarseToFineConfig(coarse_scale=0.5, patch_px=64, top_k=4, context_px=16,
                                     calibrate="mass" if fixation else "none", log_density=fixation)
            return CoarseToFine(self._dense, self._dense, cfg)(x)
        return self._dense(x)

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        """One full-resolution pass (what ``forward`` computes unless coarse-to-fine inference is on)."""
        h, w = x.shape[-2], x.shape[-1]
        ph = (PAD_MULTIPLE - h % PAD_MULTIPLE) % PAD_MULTIPLE
        pw = (PAD_MULTIPLE - w % PAD_MULTIPLE) % PAD_MULTIPLE
        if self.stn is not None:
            x = self.stn(x)
        canvas = F.pad(x, (0, pw, 0, ph))
        if self._channels_last:
            canvas = canvas.contiguous(memory_format=torch.channels_last)
        feats = self.encoder(canvas)
        y = self.decoder(feats)
        if self.context is not None:
            y = y + self.context(feats[-1].contiguous())
        decoded = y
        if self.prior is not None:
            y = torch.cat([y, self.prior(y, (h, w), self.decoder.out_stride)], 1)
        size = (canvas.shape[-2], canvas.shape[-1])
        scores = self.head(y, size)
        if self.refiner is not None:
            scores = self.refiner(scores, decoded.contiguous())
        sides = getattr(self.decoder, "side_logits", None)
        self.aux_outputs = [F.interpolate(s, size=size, mode="bilinear", align_corners=False)[:, :, :h, :w]
                            for s in sides] if (sides and self.training) else []
        return self.head.normalize(scores[:, :, :h, :w])


class GlobalContext(nn.Module):
    """Additive-attention pooling of (B, C, h, w) features → (B, out, 1, 1) added to the decoder output.

    :class:`saliency.models.blocks.AdditiveAttentionPool` (zero-initialised score: starts as global average
    pooling) followed by a zero-initialised linear projection, so the network starts unchanged. The pool's
    map (``self.pool.attention``) shows where the image-level context was gathered.
    """

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        from saliency.models.blocks import AdditiveAttentionPool

        self.pool = AdditiveAttentionPool(channels)
        self.proj = nn.Linear(channels, out_channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, _ = self.pool(x)
        return self.proj(pooled)[:, :, None, None]


def _channels_last_unsafe(m: nn.Module) -> bool:
    """A convolution whose channels-last backward crashes in oneDNN (see ``use_channels_last``)."""
    return (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1
            and m.in_channels < 8 and m.groups == 1)


# ---------------------------------------------------------------------------------------------- zoo

MODELS: Registry = Registry("model")


def _zoo(name: str, description: str, **kw: Any) -> None:
    def factory() -> ModelConfig:  # built lazily: block names are validated against BLOCKS at build time
        return ModelConfig(name=name, description=description, **kw)

    MODELS.add(name, factory, help=description)


def _blocks(**at: str) -> tuple[str, ...]:
    """Block names per stage from keyword stage indices, e.g. ``_blocks(s3="se", s4="se")``."""
    out = ["none"] * N_STAGES
    for k, v in at.items():
        out[int(k[1:])] = v
    return tuple(out)


_EFF = {"encoder": "effnet_lite0", "pretrained": True, "decoder_channels": (64, 32, 24)}
_SODNET = {"pretrained": True, "decoder": "sod", "skip_block": "cbam", "context": "non_local",
           "decoder_channels": (64, 48, 32)}
_MBV2 = {"encoder": "mobilenetv2", "encoder_width": 0.5, "decoder_channels": (48, 32, 16)}
_RES = {"encoder": "resnet", "encoder_width": 0.25, "decoder_channels": (48, 32, 16)}


def _register_zoo() -> None:
    # fixation models: pretrained EfficientNet-Lite0 with each attention type, prior on (+ ablations)
    _zoo("effnet_lite0", "EfficientNet-Lite0 (ImageNet) + U-Net decoder + 8 learned Gaussian priors",
         n_priors=8, **_EFF)
    _zoo("effnet_lite0_noprior", "effnet_lite0 without the learned centre-bias priors", **_EFF)
    _zoo("effnet_lite0_se", "effnet_lite0 + squeeze-excitation after stages 8, 16 and 32",
         blocks=_blocks(s2="se", s3="se", s4="se"), n_priors=8, **_EFF)
    _zoo("effnet_lite0_eca", "effnet_lite0 + efficient channel attention after stages 8, 16 and 32",
         blocks=_blocks(s2="eca", s3="eca", s4="eca"), n_priors=8, **_EFF)
    _zoo("effnet_lite0_cbam", "effnet_lite0 + CBAM (channel + spatial) after stages 8, 16 and 32",
         blocks=_blocks(s2="cbam", s3="cbam", s4="cbam"), n_priors=8, **_EFF)
    _zoo("effnet_lite0_cbam_noprior", "effnet_lite0_cbam without priors",
         blocks=_blocks(s2="cbam", s3="cbam", s4="cbam"), **_EFF)
    _zoo("effnet_lite0_nonlocal", "effnet_lite0 + non-local block at stride 16",
         blocks=_blocks(s3="non_local"), n_priors=8, **_EFF)
    _zoo("effnet_lite0_mhsa", "effnet_lite0 + transformer bottleneck (MHSA) on the stride-32 tokens",
         bottleneck="mhsa", n_priors=8, **_EFF)
    _zoo("effnet_lite0_mhsa_noprior", "effnet_lite0_mhsa without priors", bottleneck="mhsa", **_EFF)
    _zoo("effnet_lite0_fusion", "effnet_lite0 + multi-scale attention fusion of the decoder levels",
         fusion=True, n_priors=8, **_EFF)
    _zoo("effnet_lite0_stn", "effnet_lite0 with a spatial-transformer front-end", stn=True, n_priors=8,
         **_EFF)
    # stronger pretrained encoders (same decoder and priors)
    for v, desc in (("lite1", "EfficientNet-Lite1"), ("lite2", "EfficientNet-Lite2")):
        _zoo(f"effnet_{v}", f"{desc} (ImageNet) + U-Net decoder + 8 learned Gaussian priors", n_priors=8,
             **{**_EFF, "encoder": f"effnet_{v}"})
    # from-scratch encoders (small widths for CPU training)
    _zoo("mobilenetv2", "MobileNetV2 ×0.5 (from scratch) + U-Net decoder + priors", n_priors=8, **_MBV2)
    _zoo("mobilenetv2_cbam", "mobilenetv2 + CBAM after stages 8, 16 and 32",
         blocks=_blocks(s2="cbam", s3="cbam", s4="cbam"), n_priors=8, **_MBV2)
    _zoo("mobilenetv2_mhsa", "mobilenetv2 + transformer bottleneck", bottleneck="mhsa", n_priors=8, **_MBV2)
    _zoo("resnet", "ResNet-style ×0.25 (from scratch) + U-Net decoder + priors", n_priors=8, **_RES)
    _zoo("resnet_se", "resnet + squeeze-excitation after stages 8, 16 and 32",
         blocks=_blocks(s2="se", s3="se", s4="se"), n_priors=8, **_RES)
    _zoo("resnet_nonlocal", "resnet + non-local block at stride 16", blocks=_blocks(s3="non_local"),
         n_priors=8, **_RES)
    # salient-object detection (logits); no centre prior
    _zoo("sod_effnet_lite0", "SOD: EfficientNet-Lite0 (ImageNet) + U-Net decoder, logits", task="sod",
         **_EFF)
    _zoo("sod_effnet_lite0_cbam", "SOD: sod_effnet_lite0 + CBAM after stages 8, 16 and 32", task="sod",
         blocks=_blocks(s2="cbam", s3="cbam", s4="cbam"), **_EFF)
    for v, desc in (("lite1", "EfficientNet-Lite1"), ("lite2", "EfficientNet-Lite2")):
        _zoo(f"sod_effnet_{v}", f"SOD: {desc} (ImageNet) + U-Net decoder, logits", task="sod",
             **{**_EFF, "encoder": f"effnet_{v}"})
    # the SOD decoder: CBAM on the skips, non-local (PiCANet-style) global context, deep supervision
    for v, desc in (("lite0", "EfficientNet-Lite0"), ("lite1", "EfficientNet-Lite1"), ("lite2", "EfficientNet-Lite2")):
        _zoo(f"sodnet_{v}", f"SOD: {desc} (ImageNet) + SOD decoder (CBAM skips, non-local global context, "
             "side outputs), logits", task="sod", **_SODNET, encoder=f"effnet_{v}")
    _zoo("sod_mobilenetv2", "SOD: MobileNetV2 ×0.5 (from scratch) + U-Net decoder", task="sod", **_MBV2)
    _zoo("sod_resnet", "SOD: ResNet-style ×0.25 (from scratch) + U-Net decoder", task="sod", **_RES)


_register_zoo()

DEFAULT_FIXATION_MODEL = "effnet_lite0"
DEFAULT_SOD_MODEL = "sod_effnet_lite0"


def get_config(name_or_config: str | ModelConfig | Mapping[str, Any], **overrides: Any) -> ModelConfig:
    """Resolve a zoo name, a config or a config dict, then apply ``overrides``."""
    if isinstance(name_or_config, ModelConfig):
        cfg = name_or_config
    elif isinstance(name_or_config, Mapping):
        cfg = ModelConfig.from_dict(name_or_config)
    else:
        factory: Callable[[], ModelConfig] = MODELS.get(str(name_or_config))
        cfg = factory()
    return cfg.replace(**overrides) if overrides else cfg


def build_model(name_or_config: str | ModelConfig | Mapping[str, Any], **overrides: Any) -> SaliencyNet:
    """Build a :class:`SaliencyNet` from a zoo name or a :class:`ModelConfig`, with config overrides
    (e.g. ``build_model("effnet_lite0", pretrained=False, n_priors=0)``)."""
    return SaliencyNet(get_config(name_or_config, **overrides))
