"""Learned centre-bias priors: a bank of learnable 2-D Gaussians rendered on the feature grid.

Following the learned priors of SAM (Cornia et al., "Predicting human eye fixations via an LSTM-based
saliency attentive model", IEEE TIP 2018) and DeepGaze's centre bias: K anisotropic Gaussians whose
means and widths are learned, rendered as K extra feature maps (each peaking at 1) and concatenated to
the decoder features before the head.

Conventions: coordinates are measured in units of the **image height** so a Gaussian is round in pixels
whatever the aspect ratio (aspect-correct grid): y ∈ [0, 1], x ∈ [0, W/H]. Means are stored as
fractions of the image (0 = top/left edge, 1 = bottom/right edge) and widths in image heights. Both are
kept in sane ranges with a sigmoid reparametrisation (smooth, never outside the range):
means ∈ [0.05, 0.95] of the image, σ ∈ [0.05, 1.0] image heights.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MEAN_RANGE = (0.05, 0.95)
SIGMA_RANGE = (0.05, 1.0)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


class GaussianPriorBank(nn.Module):
    """K learnable Gaussians → (B, K, h, w) maps.

    ``forward(feat, image_hw)``: ``feat`` (B, C, h, w) is a feature map laid over the (possibly padded)
    canvas at stride ``s``; ``image_hw`` is the size (H, W) of the real image inside that canvas
    (top-left aligned) and ``stride`` the feature stride, so cell (i, j) has its centre at pixel
    ((i + 0.5)·s, (j + 0.5)·s). Returns maps in [0, 1].
    """

    def __init__(self, n_priors: int = 8) -> None:
        super().__init__()
        if n_priors < 1:
            raise ValueError(f"n_priors must be ≥ 1, got {n_priors}")
        self.n_priors = n_priors
        # initialise: means on a small ring around the centre (plus the centre), widths from 0.1 to 0.5
        g = torch.Generator().manual_seed(0)
        angles = torch.arange(n_priors, dtype=torch.float32) * (2 * math.pi / max(n_priors - 1, 1))
        radius = torch.full((n_priors,), 0.12)
        radius[0] = 0.0
        mx = 0.5 + radius * torch.cos(angles) + 0.01 * torch.randn(n_priors, generator=g)
        my = 0.5 + radius * torch.sin(angles) + 0.01 * torch.randn(n_priors, generator=g)
        sig = torch.linspace(0.1, 0.5, n_priors) if n_priors > 1 else torch.tensor([0.3])
        self.raw_mean = nn.Parameter(torch.stack([mx, my], 1).apply_(lambda v: _logit_range(v, MEAN_RANGE)))
        self.raw_sigma = nn.Parameter(torch.stack([sig, sig * 0.8], 1).apply_(
            lambda v: _logit_range(v, SIGMA_RANGE)))

    @property
    def means(self) -> torch.Tensor:
        """(K, 2) means (x, y) as fractions of image width / height, in MEAN_RANGE."""
        lo, hi = MEAN_RANGE
        return lo + (hi - lo) * torch.sigmoid(self.raw_mean)

    @property
    def sigmas(self) -> torch.Tensor:
        """(K, 2) widths (σx, σy) in image heights, in SIGMA_RANGE."""
        lo, hi = SIGMA_RANGE
        return lo + (hi - lo) * torch.sigmoid(self.raw_sigma)

    def forward(self, feat: torch.Tensor, image_hw: tuple[int, int], stride: int) -> torch.Tensor:
        b, _, h, w = feat.shape
        height, width = image_hw
        dtype, device = self.raw_mean.dtype, feat.device
        # cell centres in image-height units
        ys = (torch.arange(h, device=device, dtype=dtype) + 0.5) * stride / height
        xs = (torch.arange(w, device=device, dtype=dtype) + 0.5) * stride / height
        mean, sig = self.means, self.sigmas
        aspect = width / height
        mx = mean[:, 0] * aspect
        my = mean[:, 1]
        gx = torch.exp(-0.5 * ((xs[None, :] - mx[:, None]) / sig[:, 0:1]) ** 2)  # (K, w)
        gy = torch.exp(-0.5 * ((ys[None, :] - my[:, None]) / sig[:, 1:2]) ** 2)  # (K, h)
        maps = gy[:, :, None] * gx[:, None, :]  # (K, h, w)
        return maps.unsqueeze(0).expand(b, -1, -1, -1).to(feat.dtype)


def _logit_range(v: float, rng: tuple[float, float]) -> float:
    lo, hi = rng
    p = min(max((v - lo) / (hi - lo), 1e-4), 1 - 1e-4)
    return _logit(p)
