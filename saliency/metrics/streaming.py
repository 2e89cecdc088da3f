"""Streaming metric objects: ``update`` image by image, ``compute`` the dataset average, ``reset``.

Averaging as the MIT/Tübingen benchmark: fixation metrics (AUC, sAUC, NSS, IG) are averaged per fixation
within an image, then over images (``mean``); their plain mean over all fixations is also reported
(``fixation_mean``, ``pysaliency`` convention only). Map metrics (CC, KL, SIM, EMD) are per image, then over
images. Images without fixations are skipped (not scored) and counted in ``n_skipped``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from saliency.errors import ConfigError
from saliency.metrics import fixation as F
from saliency.metrics.conventions import Convention, get_convention
from saliency.registry import Registry

METRICS: Registry[type[StreamingMetric]] = Registry("metric")
#: Metrics scored by default (EMD is opt-in: an exact transport problem per image, about a second each).
DEFAULT_METRICS = ("auc_judd", "auc_borji", "sauc", "nss", "cc", "kl", "sim", "ig")


class StreamingMetric:
    """Base class. ``update`` takes the prediction and whatever the metric needs (keywords)."""

    name: ClassVar[str] = ""
    fixation_based: ClassVar[bool] = True
    needs_density: ClassVar[bool] = False
    needs_negatives: ClassVar[bool] = False
    needs_baseline: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    random: ClassVar[bool] = False          # draws random numbers under the mit convention

    def __init__(self, convention: str | Convention = "pysaliency", *, resize: bool | None = None,
                 seed: int | None = None) -> None:
        self.convention = get_convention(convention)
        self.resize = resize
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        #: ``mit``: ONE random stream per metric, running on across images (MATLAB's global stream is not
        #: reseeded per image), seeded with ``seed`` (default the convention's) at reset.
        self.rng = np.random.default_rng(self.convention.seed if self.seed is None else self.seed)
        self.values: list[float] = []
        self.fixation_sum = 0.0
        self.fixation_count = 0
        self.n_skipped = 0

    def update(self, saliency_map: np.ndarray, *, x_px: np.ndarray | None = None,
               y_px: np.ndarray | None = None, density: np.ndarray | None = None,
               neg_x_px: np.ndarray | None = None, neg_y_px: np.ndarray | None = None,
               baseline: np.ndarray | None = None, shape: tuple[int, int] | None = None,
               log_density: bool = False) -> float:
        """Score one image, remember it, return its score (NaN when skipped for lack of fixations)."""
        if self.skips(x_px):
            return self.skip()
        self.check_inputs(density=density, baseline=baseline, neg_x_px=neg_x_px)
        value, per_fix = self._score(np.asarray(saliency_map), x_px=x_px, y_px=y_px, density=density,
                                     neg_x_px=neg_x_px, neg_y_px=neg_y_px, baseline=baseline,
                                     shape=shape, log_density=log_density)
        return self.record(value, per_fix)

    def skips(self, x_px: np.ndarray | None) -> bool:
        """Whether an image with these fixations is skipped (fixation metrics need at least one)."""
        return self.fixation_based and (x_px is None or len(x_px) == 0)

    def check_inputs(self, *, density=None, baseline=None, neg_x_px=None) -> None:
        """Raise :class:`ConfigError` when an input this metric needs is missing."""
        if self.needs_density and density is None:
            raise ConfigError(f"metric {self.name!r} needs the ground-truth density")
        if self.needs_baseline and baseline is None:
            raise ConfigError(f"metric {self.name!r} needs a baseline map")
        if self.needs_negatives and (neg_x_px is None or len(neg_x_px) == 0):
            raise ConfigError(f"metric {self.name!r} needs fixations of other images as negatives")

    def skip(self) -> float:
        """Count an image without fixations; returns NaN."""
        self.n_skipped += 1
        return float("nan")

    def record(self, value: float, per_fix: np.ndarray | None = None) -> float:
        """Remember an image score computed elsewhere (e.g. :mod:`saliency.metrics.fused`)."""
        self.values.append(value)
        if per_fix is not None:
            self.fixation_sum += float(np.sum(per_fix))
            self.fixation_count += int(per_fix.size)
        return value

    def _score(self, m: np.ndarray, **kw: Any) -> tuple[float, np.ndarray | None]:  # pragma: no cover
        raise NotImplementedError

    @property
    def _pys(self) -> bool:
        return self.convention.name == "pysaliency"

    def compute(self) -> dict[str, Any]:
        """``mean`` (per image, then over images), ``fixation_mean``, ``n_images``, ``n_skipped``."""
        vals = np.asarray(self.values, dtype=np.float64)
        out: dict[str, Any] = {
            "metric": self.name,
            "convention": self.convention.name,
            "mean": float(vals.mean()) if vals.size else float("nan"),
            "n_images": int(vals.size),
            "n_skipped": int(self.n_skipped),
        }
        if self.fixation_count:
            out["fixation_mean"] = self.fixation_sum / self.fixation_count
            out["n_fixations"] = self.fixation_count
        return out


def _density_input(m: np.ndarray, log_density: bool) -> np.ndarray:
    return np.exp(m) if log_density else m


@METRICS.register("auc_judd", help="AUC-Judd: fixations vs all pixels (pysaliency) / thresholds at fixations (mit)")
class AUCJudd(StreamingMetric):
    """AUC-Judd; see :func:`saliency.metrics.fixation.auc_judd`."""

    name = "auc_judd"
    random = True

    def _score(self, m, *, x_px, y_px, shape, log_density, **_):
        if self._pys:
            v = F.auc_per_fixation(m, x_px, y_px, shape=shape, resize=bool(self.resize))
            return float(v.mean()), v
        return F.auc_judd(m, x_px, y_px, convention=self.convention, shape=shape, resize=self.resize,
                          rng=self.rng), None


@METRICS.register("auc_borji", help="AUC-Borji: fixations vs uniformly drawn pixels")
class AUCBorji(StreamingMetric):
    """AUC-Borji; see :func:`saliency.metrics.fixation.auc_borji`."""

    name = "auc_borji"
    random = True

    def _score(self, m, *, x_px, y_px, shape, log_density, **_):
        if self._pys:
            v = F.auc_per_fixation(m, x_px, y_px, shape=shape, resize=bool(self.resize))
            return float(v.mean()), v
        return F.auc_borji(m, x_px, y_px, convention=self.convention, shape=shape, resize=self.resize,
                           rng=self.rng), None


@METRICS.register("sauc", help="shuffled AUC: fixations vs other images' fixations")
class ShuffledAUC(StreamingMetric):
    """Shuffled AUC; see :func:`saliency.metrics.fixation.sauc`."""

    name = "sauc"
    random = True
    needs_negatives = True

    def _score(self, m, *, x_px, y_px, neg_x_px, neg_y_px, shape, log_density, **_):
        if self._pys:
            v = F.sauc_per_fixation(m, x_px, y_px, neg_x_px, neg_y_px, shape=shape, resize=bool(self.resize))
            return float(v.mean()), v
        return F.sauc(m, x_px, y_px, neg_x_px, neg_y_px, convention=self.convention, shape=shape,
                      resize=self.resize, rng=self.rng), None


@METRICS.register("nss", help="normalised scanpath saliency")
class NSS(StreamingMetric):
    """NSS; see :func:`saliency.metrics.fixation.nss`."""

    name = "nss"

    def _score(self, m, *, x_px, y_px, shape, log_density, **_):
        m = _density_input(m, log_density)
        if self._pys:
            v = F.nss_per_fixation(m, x_px, y_px, shape=shape, resize=bool(self.resize))
            return float(v.mean()), v
        return F.nss(m, x_px, y_px, convention=self.convention, shape=shape, resize=self.resize), None


@METRICS.register("ig", help="information gain over the centre-bias baseline, bits per fixation")
class InformationGain(StreamingMetric):
    """Information gain; see :func:`saliency.metrics.fixation.information_gain`."""

    name = "ig"
    needs_baseline = True

    def _score(self, m, *, x_px, y_px, baseline, shape, log_density, **_):
        if self._pys:
            v = F.information_gain_per_fixation(m, x_px, y_px, baseline, log_density=log_density,
                                                shape=shape, resize=bool(self.resize))
            return float(v.mean()), v
        return F.information_gain(m, x_px, y_px, baseline, convention=self.convention, log_density=log_density,
                                  shape=shape, resize=self.resize), None


@METRICS.register("ll", help="log-likelihood over the uniform model, bits per fixation (probabilistic models)")
class LogLikelihood(StreamingMetric):
    """LL over the uniform model, bits/fixation; see
    :func:`saliency.metrics.probabilistic.log_likelihood_per_fixation`. A map that is not a log-density is
    made a density by :func:`saliency.metrics.fixation.to_density` first (a zero pixel at a fixation gives
    −inf, as pysaliency)."""

    name = "ll"

    def _score(self, m, *, x_px, y_px, shape, log_density, **_):
        from saliency.metrics.probabilistic import log_likelihood_per_fixation

        m = F._fit(F._as_map(m), shape, self.convention, self.resize)
        if not log_density:
            with np.errstate(divide="ignore"):
                m = np.log(F.to_density(m))
        v = log_likelihood_per_fixation(m, x_px, y_px)
        return float(v.mean()), v


class _MapMetric(StreamingMetric):
    fixation_based = False
    needs_density = True
    func: ClassVar[Any] = None

    def _score(self, m, *, density, log_density, **_):
        return type(self).func(_density_input(m, log_density), density, convention=self.convention,
                               resize=self.resize), None


@METRICS.register("cc", help="Pearson correlation with the ground-truth density")
class CC(_MapMetric):
    """CC; see :func:`saliency.metrics.fixation.cc`."""

    name = "cc"
    func = staticmethod(F.cc)


@METRICS.register("kl", help="KL(ground truth ‖ prediction), nats; lower is better")
class KLDivergence(_MapMetric):
    """KL divergence; see :func:`saliency.metrics.fixation.kl_divergence`."""

    name = "kl"
    higher_is_better = False
    func = staticmethod(F.kl_divergence)


@METRICS.register("sim", help="similarity (histogram intersection) with the ground-truth density")
class SIM(_MapMetric):
    """SIM; see :func:`saliency.metrics.fixation.sim`."""

    name = "sim"
    func = staticmethod(F.sim)


@METRICS.register("emd", help="earth mover's distance on maps downsampled 32×; lower is better (slow)")
class EMD(_MapMetric):
    """EMD; see :func:`saliency.metrics.fixation.emd`."""

    name = "emd"
    higher_is_better = False
    func = staticmethod(F.emd)


def build_metrics(names: list[str] | tuple[str, ...] | None = None, convention: str | Convention = "pysaliency",
                  *, resize: bool | None = None, seed: int | None = None) -> list[StreamingMetric]:
    """Instantiate streaming metrics by name (default :data:`DEFAULT_METRICS`)."""
    names = list(DEFAULT_METRICS if not names else names)
    return [METRICS.get(n)(convention, resize=resize, seed=seed) for n in names]
