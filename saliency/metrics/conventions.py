"""Every constant and normalisation choice of the two scoring conventions, named once.

Two conventions are supported and always reported with the scores:

``pysaliency`` (default)
    The MIT/Tübingen saliency benchmark since 2018, as implemented by pysaliency
    (Kümmerer, Wallis & Bethge, "Saliency benchmarking made easy", ECCV 2018;
    ``pysaliency/metrics.py``, ``pysaliency/saliency_map_models.py``, ``roc_cython.pyx``).
    Every fixation counts (duplicates too); fixation (x, y) is scored at pixel ``(int(y), int(x))``;
    AUC is the exact rank statistic with ties counting ½; shuffled-AUC negatives are all fixations of
    all other images, rescaled to this image and truncated to integers; NSS uses the population std (N);
    KL is KL(ground truth ‖ prediction) with the benchmark's 2.2204e-16 regularisation; SIM without min–max;
    no implicit resizing.

``mit``
    The original MATLAB code of the MIT saliency benchmark (Bylinskii et al., github.com/cvzoya/saliency,
    ``code_forMetrics/*.m``): binary fixation maps (duplicate fixations merged), jitter of
    ``U(0,1)/1e7`` before AUC-Judd, min–max normalisation, thresholds at fixated values (AUC-Judd),
    0.1 threshold steps (MATLAB ``0:0.1:max`` values) and 100 random splits (AUC-Borji, shuffled AUC),
    shuffled-AUC negatives from 10 random other images, one random stream running on across images,
    MATLAB ``std`` (N − 1),
    SIM with min–max, maps resized to the fixation map with MATLAB ``imresize`` (bicubic, antialiased),
    EMD on maps downsampled 32×.
"""

from __future__ import annotations

from dataclasses import dataclass

from saliency.errors import ConfigError

PYSALIENCY = "pysaliency"
MIT = "mit"
CONVENTIONS = (PYSALIENCY, MIT)

#: Regularisation of the benchmark's KL divergence (``pysaliency.metrics.MIT_KLDiv``): 2.2204e-16 as typed
#: there (MATLAB's eps truncated to 5 digits).
PYSALIENCY_KL_EPS = 2.2204e-16
#: MATLAB's ``eps`` (= 2**-52), used by ``KLdiv.m`` and ``InfoGain.m``.
MATLAB_EPS = 2.220446049250313e-16
#: Added to the denominators of the torch training terms and map comparisons (CC, NSS:
#: :mod:`saliency.models.map_similarity`, :mod:`saliency.training.losses`) so that a constant map has a
#: finite gradient; the numpy metrics return 0 for a constant map instead.
TORCH_DENOMINATOR_EPS = 1e-12
#: Magnitude of the uniform jitter added by ``AUC_Judd.m`` (``rand(size)/10000000``).
MIT_JITTER_SCALE = 1e-7
#: Threshold step and number of random splits of ``AUC_Borji.m`` / ``AUC_shuffled.m``.
MIT_AUC_STEP = 0.1
MIT_AUC_SPLITS = 100
#: ``scoreModel_helper.m`` (``nOther = 10``): shuffled-AUC negatives are the fixations of this many other
#: images drawn at random.
MIT_N_OTHER = 10
#: ``EMD.m`` downsamples the fixation map by this factor (``imresize(fixationMap, 1/32)``).
MIT_EMD_DOWNSAMPLE = 32
#: Seed of the random number generator used for jitter and random splits (``mit``): scores are reproducible.
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Convention:
    """The choices that distinguish the two conventions (see module docstring)."""

    name: str
    binary_fixations: bool          # duplicates merged into a binary fixation map (mit) or all counted
    std_ddof: int                   # 0: population std (pysaliency); 1: MATLAB std (mit)
    minmax: bool                    # min–max normalise predictions before AUC / SIM / IG (mit)
    resize: bool                    # resize predictions to the stimulus (mit) or error on mismatch
    kl_eps: float
    jitter_scale: float             # AUC-Judd jitter (0: none)
    auc_step: float                 # AUC-Borji / sAUC threshold step (0: exact rank statistic)
    auc_splits: int
    emd_downsample: int
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.name not in CONVENTIONS:
            raise ConfigError(f"unknown convention {self.name!r}; expected one of {CONVENTIONS}")


_CONVENTIONS = {
    PYSALIENCY: Convention(PYSALIENCY, binary_fixations=False, std_ddof=0, minmax=False, resize=False,
                           kl_eps=PYSALIENCY_KL_EPS, jitter_scale=0.0, auc_step=0.0, auc_splits=0,
                           emd_downsample=MIT_EMD_DOWNSAMPLE),
    MIT: Convention(MIT, binary_fixations=True, std_ddof=1, minmax=True, resize=True, kl_eps=MATLAB_EPS,
                    jitter_scale=MIT_JITTER_SCALE, auc_step=MIT_AUC_STEP, auc_splits=MIT_AUC_SPLITS,
                    emd_downsample=MIT_EMD_DOWNSAMPLE),
}


def get_convention(convention: str | Convention) -> Convention:
    """Resolve a convention name (``"pysaliency"`` or ``"mit"``) to its :class:`Convention`."""
    if isinstance(convention, Convention):
        return convention
    try:
        return _CONVENTIONS[convention]
    except KeyError:
        raise ConfigError(f"unknown metrics convention {convention!r}; expected one of {CONVENTIONS}") from None
