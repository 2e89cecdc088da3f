"""Prediction heads: decoder features (B, C, h, w) → one map (B, 1, H, W) at the input size.

* :class:`FixationHead` — log-density: ``log_softmax`` over all H·W pixels of each image, so
  ``exp(out)`` sums to 1 per image (a probability distribution over pixels; information gain and
  log-likelihood metrics are defined on it; Kümmerer et al. 2015, DeepGaze).
* :class:`SODHead` — per-pixel logits of salient-object membership (apply ``sigmoid`` for probabilities).

Both predict at the decoder stride and upsample bilinearly (align_corners=False) to the canvas size;
the caller crops away padding before the fixation head's normalisation (:meth:`FixationHead.normalize`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saliency.models.decoders import ConvBNReLU


class _MapHead(nn.Module):
    def __init__(self, in_channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, hidden)
        self.out = nn.Conv2d(hidden, 1, 1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = self.out(self.conv(x))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class FixationHead(_MapHead):
    """(B, C, h, w) → (B, 1, H, W) un-normalised scores; :meth:`normalize` turns them into a log-density."""

    @staticmethod
    def normalize(scores: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) scores → log-density: log-softmax over the H·W pixels of each image."""
        b, _, h, w = scores.shape
        return torch.log_softmax(scores.reshape(b, -1), dim=1).reshape(b, 1, h, w)


class SODHead(_MapHead):
    """(B, C, h, w) → (B, 1, H, W) salient-object logits.

    :meth:`normalize` (applied by ``SaliencyNet`` to the final, cropped scores) returns ``a·z + b`` with the
    buffer ``calibration = [a, b]`` (identity, [1, 0], until a
    calibration on validation data sets it: ``saliency.training.calibration``); a state dict without the
    buffer (checkpoints older than it) loads with the identity.
    """

    def __init__(self, in_channels: int, hidden: int = 16) -> None:
        super().__init__(in_channels, hidden)
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        state_dict.setdefault(prefix + "calibration", torch.tensor([1.0, 0.0]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        """The network's final scores → calibrated logits ``a·scores + b``."""
        return scores * self.calibration[0] + self.calibration[1]


HEADS = {"fixation": FixationHead, "sod": SODHead}
