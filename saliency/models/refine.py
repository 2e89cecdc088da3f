"""Recurrent refinement of a saliency map with a convolutional GRU ("attention that revisits").

The refiner looks at the current map together with the features, updates a ConvGRU state and adds a
correction to the map, for a configurable number of steps — in the spirit of the recurrent attentive
refinement of SAM (Cornia et al., IEEE TIP 2018, arXiv:1611.09571), with the ConvGRU of Ballas et al.
(ICLR 2016, arXiv:1511.06432).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ConvGRUCell(nn.Module):
    """Convolutional GRU cell (Ballas et al. 2016): gates and candidate from k×k convolutions.

    ``z, r = σ(conv([x, h]))``, ``ĥ = tanh(conv([x, r·h]))``, ``h' = (1 − z)·h + z·ĥ``.
    x: (B, in_channels, H, W), h: (B, hidden, H, W) → (B, hidden, H, W).
    """

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.gates = nn.Conv2d(in_channels + hidden, 2 * hidden, kernel_size, padding=pad)
        self.candidate = nn.Conv2d(in_channels + hidden, hidden, kernel_size, padding=pad)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        z, r = self.gates(torch.cat([x, h], dim=1)).sigmoid().chunk(2, dim=1)
        cand = torch.tanh(self.candidate(torch.cat([x, r * h], dim=1)))
        return (1 - z) * h + z * cand


def _standardise(s: Tensor, eps: float = 1e-6) -> Tensor:
    """Per-image zero-mean unit-std copy of a (B, 1, H, W) map (the refiner's view of the map)."""
    mean = s.mean(dim=(2, 3), keepdim=True)
    std = s.std(dim=(2, 3), keepdim=True, unbiased=False)
    return (s - mean) / (std + eps)


class RecurrentRefiner(nn.Module):
    """Refine a saliency map (B, 1, H, W) over ``steps`` ConvGRU iterations given features (B, C, h, w).

    Features are resized bilinearly to the map size and embedded by a 1×1 conv; the initial state comes
    from the features and the (standardised) map; at each step the cell sees the embedded features and the
    current map, and a 3×3 conv of the state is added to the map: ``s_{t+1} = s_t + Δ(h_{t+1})``.
    With ``log_density=True`` the map is a log-density and is re-normalised (log-softmax over H·W) after
    every step.

    Init: Δ is zero-initialised, so the refiner returns its input map unchanged at initialisation (exactly;
    with ``log_density`` up to the re-normalisation of an already normalised map, i.e. float rounding).
    Δ receives gradient at once, the GRU after Δ's first update.
    ``self.updates``: the corrections Δ of the last call, (B, steps, H, W), detached — where the refiner
    revisited the map. ``steps`` can be overridden per call.
    """

    def __init__(self, feature_channels: int, hidden: int = 16, steps: int = 3, kernel_size: int = 3,
                 log_density: bool = False) -> None:
        super().__init__()
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        self.steps = steps
        self.log_density = log_density
        self.embed = nn.Sequential(nn.Conv2d(feature_channels, hidden, 1), nn.ReLU(inplace=True))
        self.init_state = nn.Conv2d(hidden + 1, hidden, 3, padding=1)
        self.cell = ConvGRUCell(hidden + 1, hidden, kernel_size)
        self.delta = nn.Conv2d(hidden, 1, 3, padding=1)
        nn.init.zeros_(self.delta.weight)
        nn.init.zeros_(self.delta.bias)
        self.updates: Tensor | None = None

    def forward(self, saliency: Tensor, features: Tensor, steps: int | None = None) -> Tensor:
        steps = self.steps if steps is None else steps
        if features.shape[-2:] != saliency.shape[-2:]:
            features = F.interpolate(features, size=saliency.shape[-2:], mode="bilinear", align_corners=False)
        f = self.embed(features)
        s = saliency
        h = torch.tanh(self.init_state(torch.cat([f, _standardise(s)], dim=1)))
        updates = []
        for _ in range(steps):
            h = self.cell(torch.cat([f, _standardise(s)], dim=1), h)
            d = self.delta(h)
            updates.append(d)
            s = s + d
            if self.log_density:
                b, _, hh, ww = s.shape
                s = s.reshape(b, -1).log_softmax(dim=-1).reshape(b, 1, hh, ww)
        if updates:
            self.updates = torch.cat(updates, dim=1).detach()
        return s
