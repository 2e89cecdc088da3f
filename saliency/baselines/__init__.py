"""Baselines every saliency model is compared with (rows of the results table).

- ``chance``: a constant map (AUC 0.5, NSS 0, CC 0).
- ``centre_gaussian``: a 2-D Gaussian fitted to the training fixations (normalised coordinates).
- ``centre_loo``: the leave-one-image-out average of all other images' fixation maps (rescaled to the image,
  blurred like the ground truth).
- ``gold_standard``: leave-one-observer-out: each observer's fixations are scored with the map built from
  the other observers' fixations on the same image, values pooled per image.
- ``one_human``: each observer's own map predicts the other observers' fixations; pooled per image.

Map metrics (CC, KL, SIM, EMD) of the observer rows: ``one_human`` compares the observer's map with the map
of the other observers (the MIT benchmark's "one human"); ``gold_standard`` compares the leave-one-observer-out
map with the full ground truth, which contains the left-out observer: it approximates the benchmark's
"infinite humans" ceiling (CC 1, KL 0, SIM 1 by definition) and is optimistic, not a model-free estimate.

Every map is blurred exactly like the shards' ground truth (:class:`saliency.maps.shard_blur.ShardBlur`:
σ, boundary mode, truncation, the ``mit_fft`` cut-off ``fc_cycles`` and the fixation weighting options of
the shard metadata).

Observer maps as probabilistic models. A leave-one-observer-out map is zero wherever the remaining
observers did not look (a truncated Gaussian), so the left-out observer's fixations there have probability 0
and information gain −∞. As in the MIT/Tübingen benchmark (Kümmerer, Wallis & Bethge 2015/2018: the gold
standard is a mixture of the leave-one-subject-out KDE with a centre-bias and a uniform component), the
observer map is used as the mixture

    p = (1 − w_c − w_u) · L + w_c · C + w_u / (H·W)

with L the observer map as a density, C the centre-bias Gaussian density (the IG baseline) and weights
(w_c, w_u) fitted by maximum likelihood (EM) to all scored fixations of the data set, for each of
``gold_standard`` and ``one_human`` separately (the benchmark cross-validates them; with two weights and
thousands of fixations the difference is negligible). Every metric scores this mixture; the weights are
reported in the summary (``mixture_weights``). ``regularize=False`` scores the bare maps (IG may be −∞).
"""

from saliency.baselines.closed_form import observer_nss
from saliency.baselines.compute import BASELINES, compute_baselines
from saliency.baselines.mixture import fit_mixture_weights

__all__ = ["BASELINES", "compute_baselines", "fit_mixture_weights", "observer_nss"]
