"""Saliency metrics numerically identical to the community references (pure numpy/scipy, no torch).

Fixation prediction (:mod:`saliency.metrics.fixation`, streaming classes in :mod:`saliency.metrics.streaming`):
AUC-Judd, AUC-Borji, shuffled AUC, NSS, CC, KL, SIM, information gain, EMD, each under a named convention
(``"pysaliency"`` default, ``"mit"``; :mod:`saliency.metrics.conventions`). Salient-object detection:
:mod:`saliency.metrics.sod` (PySODMetrics conventions). Dataset evaluation over shards:
:func:`saliency.metrics.evaluate`.
"""

from saliency.metrics.conventions import CONVENTIONS, Convention, get_convention
from saliency.metrics.fixation import (
    auc_borji,
    auc_judd,
    auc_per_fixation,
    cc,
    emd,
    information_gain,
    information_gain_per_fixation,
    kl_divergence,
    nss,
    nss_per_fixation,
    rank_auc,
    sauc,
    sauc_per_fixation,
    shuffled_negatives,
    sim,
    to_density,
)
from saliency.metrics.streaming import DEFAULT_METRICS, METRICS, StreamingMetric, build_metrics

__all__ = [
    "CONVENTIONS",
    "DEFAULT_METRICS",
    "METRICS",
    "Convention",
    "EvaluationResult",
    "StreamingMetric",
    "auc_borji",
    "auc_judd",
    "auc_per_fixation",
    "build_metrics",
    "cc",
    "emd",
    "evaluate",
    "gap_closed",
    "get_convention",
    "information_gain",
    "information_gain_per_fixation",
    "kl_divergence",
    "nss",
    "nss_per_fixation",
    "rank_auc",
    "sauc",
    "sauc_per_fixation",
    "shuffled_negatives",
    "sim",
    "to_density",
]


def __getattr__(name: str):
    # evaluate pulls in pandas; import it on first use
    if name in {"evaluate", "EvaluationResult", "gap_closed"}:
        from saliency.metrics import evaluation

        return getattr(evaluation, name)
    raise AttributeError(name)
