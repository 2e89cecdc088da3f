"""CC and KL between maps in torch (differentiable, batched): the one torch home of both definitions.

The definitions are those of :func:`saliency.metrics.fixation.cc` and
:func:`saliency.metrics.fixation.kl_divergence` (``pysaliency`` convention), applied per image to
(B, …) tensors of non-negative maps and returning (B,):

- CC: Pearson correlation Σ(a − ā)(b − b̄) / sqrt(Σ(a − ā)² Σ(b − b̄)²). The denominator gets
  :data:`saliency.metrics.conventions.TORCH_DENOMINATOR_EPS` so that a constant map has a finite
  gradient (it scores 0, like the numpy metric).
- KL(reference ‖ other) = Σ q · log(ε + q / (p + ε)), both maps normalised to sum 1, in nats;
  ε = :data:`saliency.metrics.conventions.PYSALIENCY_KL_EPS` unless given.

Used by the training objectives (:mod:`saliency.training.losses`) and the coarse-to-fine agreement
report (:mod:`saliency.models.coarse_to_fine`); tests/training/test_objectives.py checks them against
the numpy metrics.
"""

from __future__ import annotations

from torch import Tensor

from saliency.metrics.conventions import PYSALIENCY_KL_EPS, TORCH_DENOMINATOR_EPS


def pearson_cc(a: Tensor, b: Tensor) -> Tensor:
    """Pearson CC per image of two (B, …) maps → (B,), in the maps' dtype."""
    a = a.flatten(1)
    b = b.flatten(1)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / ((a.square().sum(1) * b.square().sum(1)).sqrt() + TORCH_DENOMINATOR_EPS)


def kl_divergence(reference: Tensor, other: Tensor, eps: float = PYSALIENCY_KL_EPS) -> Tensor:
    """KL(reference ‖ other) per image of two non-negative (B, …) maps → (B,), both normalised to sum 1."""
    q = reference.flatten(1)
    p = other.flatten(1)
    q = q / q.sum(1, keepdim=True)
    p = p / p.sum(1, keepdim=True)
    return (q * (eps + q / (p + eps)).log()).sum(1)
