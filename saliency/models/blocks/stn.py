"""Spatial transformer front-end (Jaderberg et al., NeurIPS 2015, arXiv:1506.02025)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def affine_grid(theta: Tensor, height: int | Tensor, width: int | Tensor) -> Tensor:
    """Sampling grid (B, H, W, 2) of ``theta`` (B, 2, 3) in normalised coordinates, ``align_corners=False``.

    Same result as :func:`torch.nn.functional.affine_grid` but built from ``torch.arange`` so that it
    exports to ONNX opsets below 20 (no AffineGrid op) with dynamic H, W. Pixel centres are at
    ``(2j + 1)/W − 1`` (x) and ``(2i + 1)/H − 1`` (y).
    """
    dtype, device = theta.dtype, theta.device
    xs = (2 * torch.arange(width, device=device, dtype=dtype) + 1) / width - 1
    ys = (2 * torch.arange(height, device=device, dtype=dtype) + 1) / height - 1
    h_n, w_n = ys.shape[0], xs.shape[0]
    base = torch.stack([xs[None, :].expand(h_n, w_n), ys[:, None].expand(h_n, w_n),
                        torch.ones(h_n, w_n, dtype=dtype, device=device)], dim=-1)  # (H, W, 3)
    return torch.einsum("hwk,bjk->bhwj", base, theta)


def invert_affine(theta: Tensor) -> Tensor:
    """Inverse of (B, 2, 3) affine maps (closed-form 2×2 inverse; exports without ``linalg.inv``)."""
    a, b, tx = theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2]
    c, d, ty = theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    row0 = torch.stack([ia, ib, -(ia * tx + ib * ty)], dim=-1)
    row1 = torch.stack([ic, id_, -(ic * tx + id_ * ty)], dim=-1)
    return torch.stack([row0, row1], dim=1)


class SpatialTransformer(nn.Module):
    """Learned affine warp of the input image: localisation net → θ (B, 2, 3) → grid sample.

    Images (B, 3, H, W) → warped images (B, 3, H, W) (output size = input size unless ``out_size`` is
    given). The localisation net sees the image resized (bilinear, no antialiasing) to
    ``loc_size``×``loc_size`` (64) — a fixed-size graph that exports to ONNX with dynamic H, W (adaptive
    pooling to a non-1 size does not) — then conv5×5/2-ReLU-conv3×3/2-ReLU-avgpool(loc_size/16)-FC-ReLU-FC(6). Identity init as in the paper: the last FC has zero weights and bias
    ``[1, 0, 0, 0, 1, 0]``, so the module starts as the identity warp (bilinear sampling at the pixel
    centres, ``align_corners=False``: exact up to float rounding).
    ``self.theta``: last affine parameters (B, 2, 3), detached. :meth:`warp_back` maps a prediction made
    on the warped image back to the original frame (inverse affine), e.g. a saliency map.
    """

    def __init__(self, in_channels: int = 3, hidden: int = 32, padding_mode: str = "border",
                 loc_size: int = 64) -> None:
        super().__init__()
        if loc_size % 16:
            raise ValueError(f"loc_size must be a multiple of 16, got {loc_size}")
        self.loc_size = loc_size
        self.localisation = nn.Sequential(
            nn.Conv2d(in_channels, 16, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(16, hidden, 3, stride=2, padding=1), nn.ReLU(),
            nn.AvgPool2d(loc_size // 16), nn.Flatten(),
            nn.Linear(hidden * 16, hidden), nn.ReLU(),
            nn.Linear(hidden, 6))
        last = self.localisation[-1]
        nn.init.zeros_(last.weight)
        with torch.no_grad():
            last.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
        self.padding_mode = padding_mode
        self.theta: Tensor | None = None

    def forward(self, x: Tensor, out_size: tuple[int, int] | None = None) -> Tensor:
        small = F.interpolate(x, size=(self.loc_size, self.loc_size), mode="bilinear", align_corners=False)
        theta = self.localisation(small).reshape(-1, 2, 3)
        self.theta = theta.detach()
        h, w = out_size if out_size is not None else (x.shape[-2], x.shape[-1])
        grid = affine_grid(theta, h, w)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=self.padding_mode, align_corners=False)

    def warp_back(self, y: Tensor, theta: Tensor | None = None, out_size: tuple[int, int] | None = None) -> Tensor:
        """Resample ``y`` (B, C, h, w), computed on the warped image, into the original image frame."""
        theta = self.theta if theta is None else theta
        if theta is None:
            raise RuntimeError("warp_back needs theta: call forward first or pass theta")
        h, w = out_size if out_size is not None else (y.shape[-2], y.shape[-1])
        grid = affine_grid(invert_affine(theta), h, w)
        return F.grid_sample(y, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
