"""Map-building options and the per-stimulus step from fixation-table rows to a map.

Weighting conventions (combinable):

- ``duration_weighted``: each fixation weighs its ``duration_ms`` (a fixation of 400 ms counts twice
  one of 200 ms), as in duration-weighted fixation density maps (e.g. Wooding 2002).
- ``observer_equal``: each observer's weights on a stimulus are scaled to sum 1, so every observer
  contributes equally however many fixations they made.
- ``drop_first``: fixations with ``index == 0`` (each trial's first fixation, usually the central
  fixation-cross landing) are left out before weighting (shorthand for ``selection="drop-first"``).
- ``selection``: which fixations of each scanpath enter the map (index range, max per scanpath, time
  window, minimum scanpath length): :class:`saliency.fixations.selection.FixationSelection`. Stored in
  the shard set's ``meta.json``, so baselines and metrics built from the shards use the same fixations.
- ``binary``: each fixated pixel ``(int(y), int(x))`` counts once however many fixations landed on it —
  the binary fixation map the MIT benchmark README blurs (``antonioGaussian`` of ``fixationPts``) for its
  ground truth; use with ``mode = "mit_fft"`` for MIT-style maps. Not combinable with the weightings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, SchemaError
from saliency.fixations.selection import FixationSelection, parse_selection
from saliency.maps.fusion import SeparableGaussian, normalize_map
from saliency.maps.kernels import MODES, mit_fft_size, mit_sigma_to_fc
from saliency.units import sigma_px as _sigma_px


@dataclass(frozen=True)
class MapOptions:
    """How ground-truth maps are built. ``sigma`` is in ``sigma_unit`` (``"px"`` or ``"dva"``);
    :meth:`resolve` gives σ in pixels with the dataset's pixels per degree."""

    sigma: float = 24.0
    sigma_unit: str = "px"
    mode: str = "constant"
    truncate: float = 4.0
    duration_weighted: bool = False
    observer_equal: bool = False
    drop_first: bool = False
    fc_cycles: float | None = None
    selection: FixationSelection = field(default_factory=FixationSelection)
    binary: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.selection, FixationSelection):
            object.__setattr__(self, "selection", parse_selection(self.selection))
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ConfigError(f"sigma must be a positive finite number, got {self.sigma!r}")
        if self.sigma_unit not in ("px", "dva"):
            raise ConfigError(f"sigma_unit must be 'px' or 'dva', got {self.sigma_unit!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not (self.truncate > 0 and math.isfinite(self.truncate)):
            raise ConfigError(f"truncate must be a positive number of σ, got {self.truncate!r}")
        if self.binary and (self.duration_weighted or self.observer_equal):
            raise ConfigError("binary maps count each fixated pixel once; they cannot be duration-weighted or "
                              "observer-equal")
        if self.fc_cycles is not None and (self.mode != "mit_fft" or not self.fc_cycles > 0):
            raise ConfigError("fc_cycles (a positive cut-off in cycles per image) applies only to mode 'mit_fft'")

    def sigma_px(self, pixels_per_degree: float | None) -> float:
        return _sigma_px(self.sigma, self.sigma_unit, pixels_per_degree)

    @property
    def effective_selection(self) -> FixationSelection:
        """``selection`` with ``drop_first`` folded in: the fixations that enter the maps."""
        return self.selection.with_drop_first() if self.drop_first else self.selection

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MapOptions:
        d = dict(d)
        d["selection"] = FixationSelection.from_dict(d.get("selection"))
        return cls(**d)


def select_fixations(rows: pd.DataFrame, options: MapOptions) -> pd.DataFrame:
    """The table rows that enter the map (:attr:`MapOptions.effective_selection`)."""
    return options.effective_selection.apply(rows)


def fixation_weights(rows: pd.DataFrame, options: MapOptions) -> np.ndarray | None:
    """(N,) float64 weights of the rows for ``options`` (None: all equal). ``binary``: 1 for the first row on
    each pixel ``(int(y), int(x))``, 0 for the repeats."""
    if options.binary:
        px = (rows["y"].to_numpy(np.float64).astype(np.int64) * (1 << 32)
              + rows["x"].to_numpy(np.float64).astype(np.int64))
        _, first = np.unique(px, return_index=True)
        w = np.zeros(len(rows), dtype=np.float64)
        w[first] = 1.0
        return w
    if not (options.duration_weighted or options.observer_equal):
        return None
    if options.duration_weighted:
        w = rows["duration_ms"].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(w)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SchemaError(f"{rows['source'].iat[i]}: duration-weighted maps need duration_ms, found NaN "
                              f"({int(bad.sum())} rows of stimulus {rows['stimulus'].iat[i]!r})")
    else:
        w = np.ones(len(rows), dtype=np.float64)
    if options.observer_equal and len(rows):
        per_obs = pd.Series(w).groupby(rows["observer"].to_numpy()).transform("sum").to_numpy()
        w = np.divide(w, per_obs, out=np.zeros_like(w), where=per_obs > 0)
    return w


def stimulus_map(rows: pd.DataFrame, blur: SeparableGaussian, options: MapOptions,
                 normalization: str = "sum", dtype: type = np.float32) -> np.ndarray:
    """The (H, W) map of one stimulus from its fixation-table rows (``x``, ``y`` in stimulus pixels)."""
    rows = select_fixations(rows, options)
    raw = blur.blur(rows["x"].to_numpy(), rows["y"].to_numpy(), fixation_weights(rows, options))
    return normalize_map(raw, normalization, dtype, inplace=True)


def resolved_fc(options: MapOptions, sigma_px: float, height: int, width: int) -> float | None:
    """The mit_fft cut-off (cycles per FFT grid) for a stimulus size, else None."""
    if options.mode != "mit_fft":
        return None
    return options.fc_cycles if options.fc_cycles is not None else mit_sigma_to_fc(
        sigma_px, mit_fft_size(height, width))
