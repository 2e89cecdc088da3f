"""Training objectives, pluggable by name (``LOSSES`` registry).

Fixation prediction (pred: (B, 1, H, W) float log-density, log-softmax over each image's H·W pixels;
target: (B, 1, H, W) probability map summing to 1; fixation_map: (B, 1, H, W) fixation counts):

- ``kl``:  Σ g · log(ε + g / (ε + p)), p = exp(pred), ε = ``PYSALIENCY_KL_EPS`` (MIT benchmark KLdiv;
  Bylinskii et al., "What do different evaluation metrics tell us about saliency models?", TPAMI 2019).
- ``cc``:  Pearson correlation of p and g over pixels (MIT ``CC``).

CC and KL are :mod:`saliency.models.map_similarity` (the torch home of both); every constant comes from
:mod:`saliency.metrics.conventions`, and tests/training/test_objectives.py checks each term against the
numpy metric of :mod:`saliency.metrics.fixation`.
- ``nss``: mean of the standardised saliency (p − mean p) / std p at the fixated pixels, weighted by
  fixation counts (Peters et al. 2005; population std as pysaliency.metrics.NSS).
- ``sim``: Σ min(p̂, ĝ) of both maps normalised to sum 1 (Judd et al.; MIT ``similarity``).
- ``ll``: log-likelihood of the fixations, nats per fixation: the count-weighted mean of ``pred`` at the
  fixated pixels (Kümmerer et al., PNAS 2015). Maximising it (weight < 0, e.g. ``{"ll": -1}``) trains a
  calibrated fixation *density*, the model the benchmark's metric-specific maps assume
  (:mod:`saliency.metrics.probabilistic`); the other terms fit the blurred ground truth instead.

Each term returns the per-image *metric* averaged over the batch (lower is better only for ``kl``).
A weighted objective is minimised: ``loss = Σ w_k · term_k`` with signed weights; the default
``{"kl": 1.0, "cc": -0.1, "nss": -0.1}`` is KL − 0.1·CC − 0.1·NSS.

Salient-object detection (logits: (B, 1, H, W); mask: (B, 1, H, W) in [0, 1]):

- ``structure``: weighted BCE + weighted IoU of F3Net (Wei et al., AAAI 2020) / PraNet (Fan et al.,
  MICCAI 2020): weights 1 + 5·|avgpool₃₁(mask) − mask| emphasise pixels near object boundaries.
- ``bce``, ``iou``: the unweighted terms.
- ``edge``: boundary-aware term, a soft Dice loss between the morphological gradients (3×3 max-pool
  minus 3×3 min-pool, a 1–2 px band around every object contour) of sigmoid(logits) and of the mask;
  it penalises blurred, doubled or missing contours, which the area terms above barely see.
- ``mae``: mean |sigmoid(logits) − mask|, the evaluation's MAE itself (calibration of the probabilities).

Deep supervision: :class:`WeightedObjective` called with ``aux`` (side-output logits at the target's
size) adds ``deep_supervision · mean_i Σ_k w_k · term_k(aux_i)`` to the loss of the main output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from saliency.errors import ConfigError
from saliency.metrics.conventions import TORCH_DENOMINATOR_EPS
from saliency.models.map_similarity import kl_divergence, pearson_cc
from saliency.registry import Registry

LossFn = Callable[..., torch.Tensor]
LOSSES: Registry[LossFn] = Registry("loss")
FIXATION_TERMS = ("kl", "cc", "nss", "sim", "ll")
SOD_TERMS = ("structure", "bce", "iou", "edge", "mae")
DEFAULT_FIXATION_WEIGHTS: Mapping[str, float] = {"kl": 1.0, "cc": -0.1, "nss": -0.1}
DEFAULT_SOD_WEIGHTS: Mapping[str, float] = {"structure": 1.0}


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).float()


@LOSSES.register("kl")
def kl_div(pred: torch.Tensor, target: torch.Tensor, fixation_map: torch.Tensor | None = None) -> torch.Tensor:
    """KL(g ‖ p), MIT form Σ g·log(ε + g/(ε + p)); pred log-density, target density. Mean over batch."""
    return kl_divergence(_flat(target), _flat(pred).exp()).mean()


@LOSSES.register("cc")
def cc(pred: torch.Tensor, target: torch.Tensor, fixation_map: torch.Tensor | None = None) -> torch.Tensor:
    """Pearson correlation of exp(pred) and target, per image, mean over batch."""
    return pearson_cc(_flat(pred).exp(), _flat(target)).mean()


@LOSSES.register("nss")
def nss(pred: torch.Tensor, target: torch.Tensor | None = None,
        fixation_map: torch.Tensor | None = None) -> torch.Tensor:
    """Count-weighted mean of the standardised exp(pred) at fixations, per image, mean over batch.

    Images without fixations are left out of the mean.
    """
    if fixation_map is None:
        raise ConfigError("loss term 'nss' needs fixation maps (the batch has no 'fixation_map')")
    p = _flat(pred).exp()
    f = _flat(fixation_map)
    z = (p - p.mean(1, keepdim=True)) / (p.std(1, keepdim=True, correction=0) + TORCH_DENOMINATOR_EPS)
    n = f.sum(1)
    per = (z * f).sum(1) / n.clamp_min(1)
    ok = n > 0
    return per[ok].mean() if bool(ok.any()) else per.sum() * 0


@LOSSES.register("sim")
def sim(pred: torch.Tensor, target: torch.Tensor, fixation_map: torch.Tensor | None = None) -> torch.Tensor:
    """Histogram intersection Σ min(p̂, ĝ) of the sum-normalised maps, mean over batch."""
    p = _flat(pred).exp()
    g = _flat(target)
    p = p / p.sum(1, keepdim=True)
    g = g / g.sum(1, keepdim=True)
    return torch.minimum(p, g).sum(1).mean()


@LOSSES.register("ll")
def log_likelihood(pred: torch.Tensor, target: torch.Tensor | None = None,
                   fixation_map: torch.Tensor | None = None) -> torch.Tensor:
    """Count-weighted mean log-density (nats) at the fixations, per image, mean over batch (images without
    fixations left out)."""
    if fixation_map is None:
        raise ConfigError("loss term 'll' needs fixation maps (the batch has no 'fixation_map')")
    f = _flat(fixation_map)
    n = f.sum(1)
    per = (_flat(pred) * f).sum(1) / n.clamp_min(1)
    ok = n > 0
    return per[ok].mean() if bool(ok.any()) else per.sum() * 0


def _boundary_weight(mask: torch.Tensor) -> torch.Tensor:
    return 1 + 5 * torch.abs(F.avg_pool2d(mask, kernel_size=31, stride=1, padding=15) - mask)


@LOSSES.register("structure")
def structure_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """F3Net/PraNet structure loss: boundary-weighted BCE + weighted IoU, mean over batch."""
    logits, mask = logits.float(), mask.float()
    weit = _boundary_weight(mask)
    wbce = F.binary_cross_entropy_with_logits(logits, mask, reduction="none")
    wbce = (weit * wbce).sum((2, 3)) / weit.sum((2, 3))
    p = torch.sigmoid(logits)
    inter = (p * mask * weit).sum((2, 3))
    union = ((p + mask) * weit).sum((2, 3))
    wiou = 1 - (inter + 1) / (union - inter + 1)
    return (wbce + wiou).mean()


@LOSSES.register("bce")
def bce(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-pixel binary cross-entropy with logits."""
    return F.binary_cross_entropy_with_logits(logits.float(), mask.float())


@LOSSES.register("iou")
def iou(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Soft IoU loss 1 − (Σpm + 1)/(Σ(p + m − pm) + 1)."""
    p = torch.sigmoid(logits.float())
    inter = (p * mask).sum((2, 3))
    union = (p + mask).sum((2, 3))
    return (1 - (inter + 1) / (union - inter + 1)).mean()


def morphological_gradient(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1] → 3×3 dilation minus 3×3 erosion (1 on a band around contours of a mask)."""
    return F.max_pool2d(x, 3, stride=1, padding=1) + F.max_pool2d(-x, 3, stride=1, padding=1)


@LOSSES.register("edge")
def edge_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss 1 − (2Σ e_p e_m + 1)/(Σ e_p + Σ e_m + 1) of the contour bands, mean over batch."""
    ep = morphological_gradient(torch.sigmoid(logits.float()))
    em = morphological_gradient(mask.float())
    inter = (ep * em).sum((2, 3))
    return (1 - (2 * inter + 1) / (ep.sum((2, 3)) + em.sum((2, 3)) + 1)).mean()


@LOSSES.register("mae")
def mae_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of the probabilities, mean over pixels and batch."""
    return (torch.sigmoid(logits.float()) - mask.float()).abs().mean()


class WeightedObjective:
    """``Σ w_k · LOSSES[k](...)`` for one task; ``__call__`` returns (loss, {term: value}).

    ``deep_supervision`` > 0 (SOD): the same weighted sum on each side output passed as ``aux``, averaged
    over the side outputs and scaled by this weight, is added (reported as term ``deep_supervision``).
    """

    def __init__(self, weights: Mapping[str, float], task: str = "fixation",
                 deep_supervision: float = 0.0) -> None:
        allowed = FIXATION_TERMS if task == "fixation" else SOD_TERMS
        if not weights:
            raise ConfigError("loss.weights is empty")
        for k in weights:
            LOSSES.get(k)
            if k not in allowed:
                raise ConfigError(f"loss.weights.{k}: not a {task} objective; use one of {list(allowed)}")
        if deep_supervision and task != "sod":
            raise ConfigError("loss.deep_supervision: only for task 'sod' (side outputs of decoder 'sod')")
        self.weights = {k: float(v) for k, v in weights.items()}
        self.task = task
        self.deep_supervision = float(deep_supervision)

    def __call__(self, pred: torch.Tensor, batch: Mapping[str, torch.Tensor],
                 aux: Sequence[torch.Tensor] = ()) -> tuple[torch.Tensor, dict]:
        terms = {}
        total = pred.new_zeros((), dtype=torch.float32)
        for k, w in self.weights.items():
            if self.task == "fixation":
                v = LOSSES.get(k)(pred, batch["density"], batch.get("fixation_map"))
            else:
                v = LOSSES.get(k)(pred, batch["mask"])
            terms[k] = float(v.detach())
            total = total + w * v
        if self.deep_supervision and aux:
            side = sum(sum(w * LOSSES.get(k)(a.float(), batch["mask"]) for k, w in self.weights.items())
                       for a in aux) / len(aux)
            terms["deep_supervision"] = float(side.detach())
            total = total + self.deep_supervision * side
        return total, terms
