"""Ground-truth maps: fixations → count maps → Gaussian-blurred probability maps.

``fuse_fixations`` equals ``scipy.ndimage.gaussian_filter`` of ``fixation_count_map`` (same σ, mode and
truncation; or MIT's Fourier-domain ``antonioGaussian`` for ``mode="mit_fft"``), normalised to sum 1.
"""

from saliency.maps.fusion import (
    NORMALIZATIONS,
    SeparableGaussian,
    fixation_count_map,
    fuse_fixations,
    leave_one_observer_out,
    normalize_map,
    pixel_indices,
    single_threaded_blas,
)
from saliency.maps.kernels import MODES, gaussian_kernel1d, mit_fc_to_sigma, mit_fft_size, mit_sigma_to_fc
from saliency.maps.options import MapOptions, fixation_weights, select_fixations, stimulus_map

__all__ = [
    "MODES", "NORMALIZATIONS", "MapOptions", "SeparableGaussian", "fixation_count_map", "fixation_weights",
    "fuse_fixations", "gaussian_kernel1d", "leave_one_observer_out", "mit_fc_to_sigma", "mit_fft_size",
    "mit_sigma_to_fc", "normalize_map", "pixel_indices", "select_fixations", "single_threaded_blas", "stimulus_map",
]
