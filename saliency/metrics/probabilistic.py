"""Metric-specific saliency maps of a probabilistic model (Kümmerer, Wallis & Bethge, ECCV 2018), pure numpy.

A probabilistic model predicts, per stimulus, a fixation density p (here given as its log-density, natural
log, per pixel, ``logsumexp = 0``). The MIT/Tübingen benchmark does not score one map with every metric:
for each metric it scores the saliency map that the model itself expects to be best for that metric.

=========  ==========================  ===================================================================
kind       map                          metrics (and why; derivations in docs/metrics.md)
=========  ==========================  ===================================================================
density    p                            AUC-Judd, AUC-Borji, NSS (exact optimum: AUC and NSS are maximised
                                        in expectation by any increasing function of p, NSS by p itself)
sauc       p / p_nonfix (as log ratio)  shuffled AUC (negatives come from the nonfixation distribution
                                        p_nonfix; the likelihood ratio is the optimal classifier)
log        log p                        IG (over the centre bias) and LL (over the uniform model), bits/fix
expected   E[ESM] = blur(p)             CC, KL, SIM, EMD: the expected empirical saliency map (the ground
                                        truth's blur applied to p). Exact optimum for KL; CC, SIM and EMD
                                        have no closed-form optimum (the benchmark uses E[ESM] for CC,
                                        optimises SIM numerically and has no EMD map)
=========  ==========================  ===================================================================

Invalid predictions (non-finite values, ``-inf`` = zero probability, or ``|logsumexp| > 0.01`` as the
benchmark's upload check) raise :class:`saliency.errors.SchemaError` naming the stimulus; no regularisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from saliency.errors import SchemaError

__all__ = [
    "MAP_DESCRIPTIONS",
    "MAP_FOR_METRIC",
    "MAP_LABELS",
    "NORMALISATION_TOLERANCE",
    "check_log_density",
    "expected_saliency_map",
    "log_likelihood_per_fixation",
    "logsumexp",
    "map_for_metric",
    "metric_maps",
]

#: Which map each metric is scored on (keys: metric names of :mod:`saliency.metrics.streaming`).
MAP_FOR_METRIC: dict[str, str] = {
    "auc_judd": "density", "auc_borji": "density", "nss": "density",
    "sauc": "sauc",
    "ig": "log", "ll": "log",
    "cc": "expected", "kl": "expected", "sim": "expected", "emd": "expected",
}
#: Human-readable name of each map kind (printed in the evaluate table).
MAP_DESCRIPTIONS: dict[str, str] = {
    "density": "density p",
    "sauc": "p / nonfixation density",
    "log": "log-density",
    "expected": "expected ESM (blurred p)",
}
#: Short labels of the map kinds (table rows).
MAP_LABELS: dict[str, str] = {"density": "p", "sauc": "p/p_c", "log": "log p", "expected": "E[ESM]"}
#: The benchmark rejects a log-density whose ``logsumexp`` is further than this from 0 (nats).
NORMALISATION_TOLERANCE = 0.01

#: A blur: a Gaussian σ in pixels (``scipy.ndimage.gaussian_filter``, mode ``constant``, as the benchmark's
#: ``BluringSaliencyMapModel(…, mode='constant')``), a pair of response matrices (Ry (H, H), Rx (W, W)) so
#: that blur(p) = Ryᵀ · p · Rx (the shards' own blur, :class:`saliency.maps.shard_blur.ShardBlur`), or a callable.
Blur = float | tuple[np.ndarray, np.ndarray] | Callable[[np.ndarray], np.ndarray]


def map_for_metric(metric: str) -> str:
    """The map kind a metric is scored on (``density``, ``sauc``, ``log`` or ``expected``)."""
    try:
        return MAP_FOR_METRIC[metric]
    except KeyError:
        raise SchemaError(f"no metric-specific map is defined for metric {metric!r}; known: "
                          f"{sorted(MAP_FOR_METRIC)}") from None


def logsumexp(a: np.ndarray) -> float:
    """log Σ exp(a), stable (max subtracted)."""
    a = np.asarray(a, dtype=np.float64)
    mx = float(a.max())
    return mx + float(np.log(np.exp(a - mx).sum()))


def check_log_density(log_density: np.ndarray, *, stimulus: str = "", what: str = "log-density",
                      tolerance: float = NORMALISATION_TOLERANCE) -> np.ndarray:
    """Validate a (H, W) log-density and return it as float64.

    Raises :class:`SchemaError` naming ``stimulus`` for a wrong shape, NaN, +inf, −inf (a pixel of zero
    probability, whose log the metrics need) or a density not summing to 1 (``|logsumexp| > tolerance``).
    """
    where = f" of stimulus {stimulus!r}" if stimulus else ""
    a = np.asarray(log_density)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise SchemaError(f"{what}{where} must be a 2-D (H, W) array, got shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    finite = np.isfinite(a)
    if not finite.all():
        bad = a[~finite]
        kind = "NaN" if np.isnan(bad).any() else ("+inf" if (bad > 0).any() else
                                                   "-inf (zero probability; its log is needed)")
        i, j = np.argwhere(~finite)[0]
        raise SchemaError(f"{what}{where} contains {kind} at {int((~finite).sum())} pixel(s), first at "
                          f"row {int(i)}, column {int(j)}")
    lse = logsumexp(a)
    if abs(lse) > tolerance:
        raise SchemaError(f"{what}{where} is not normalised: log Σ exp = {lse:.6g} (sum {np.exp(lse):.6g}); "
                          f"a log-density must sum to 1 within |log Σ| ≤ {tolerance:g}")
    return a


def expected_saliency_map(density: np.ndarray, blur: Blur) -> np.ndarray:
    """Expected empirical saliency map E[ESM] = blur(p) (up to a positive factor, irrelevant to CC/KL/SIM).

    An empirical saliency map is the blurred map of N fixations drawn from p; blurring is linear, so its
    expectation is N · blur(p). ``blur``: see :data:`Blur`.
    """
    p = np.asarray(density, dtype=np.float64)
    if callable(blur):
        return np.asarray(blur(p), dtype=np.float64)
    if isinstance(blur, tuple):
        ry, rx = blur
        if ry.shape != (p.shape[0], p.shape[0]) or rx.shape != (p.shape[1], p.shape[1]):
            raise SchemaError(f"blur matrices {ry.shape}, {rx.shape} do not fit a {p.shape} map")
        return ry.T @ p @ rx
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(p, float(blur), mode="constant")


def metric_maps(log_density: np.ndarray, *, kinds: Iterable[str] = ("density", "sauc", "log", "expected"),
                nonfixation_log_density: np.ndarray | None = None, blur: Blur | None = None,
                stimulus: str = "") -> dict[str, np.ndarray]:
    """The metric-specific maps of one stimulus: kind → (H, W) float64 map (see the module table).

    log_density: the model's log-density (validated by :func:`check_log_density`).
    nonfixation_log_density: log-density of the shuffled-AUC negatives (centre bias), needed for ``sauc``;
    the map is ``log p − log p_nonfix`` (an increasing function of the ratio, so every AUC is the same).
    blur: the ground truth's blur, needed for ``expected``.
    """
    ld = check_log_density(log_density, stimulus=stimulus)
    kinds = list(kinds)
    unknown = sorted(set(kinds) - set(MAP_DESCRIPTIONS))
    if unknown:
        raise SchemaError(f"unknown metric map kinds {unknown}; known: {sorted(MAP_DESCRIPTIONS)}")
    out: dict[str, np.ndarray] = {}
    dens = np.exp(ld) if ("density" in kinds or "expected" in kinds) else None
    for k in kinds:
        if k == "density":
            out[k] = dens
        elif k == "log":
            out[k] = ld
        elif k == "sauc":
            if nonfixation_log_density is None:
                raise SchemaError("the shuffled-AUC map needs the nonfixation (centre-bias) log-density")
            nf = check_log_density(nonfixation_log_density, stimulus=stimulus, what="nonfixation log-density")
            if nf.shape != ld.shape:
                raise SchemaError(f"nonfixation log-density {nf.shape} and prediction {ld.shape} differ in "
                                  f"shape for stimulus {stimulus!r}")
            out[k] = ld - nf
        else:
            if blur is None:
                raise SchemaError("the expected empirical saliency map needs the ground truth's blur")
            out[k] = expected_saliency_map(dens, blur)
    return out


def log_likelihood_per_fixation(log_density: np.ndarray, x_px: Sequence[float] | np.ndarray,
                                y_px: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-fixation log-likelihood over the uniform model, bits: (log p(x_i) + log(H·W)) / log 2.

    pysaliency ``Model.information_gains(…, baseline_model=UniformModel())``; fixation i is scored at pixel
    ``(int(y_i), int(x_i))``. Its mean is the benchmark's LL (bits/fixation).
    """
    from saliency.metrics.fixation import fixation_indices

    ld = np.asarray(log_density, dtype=np.float64)
    idx = fixation_indices(x_px, y_px, ld.shape)
    return (ld.ravel()[idx] + np.log(ld.size)) / np.log(2.0)
