"""An in-memory source with the shard-set interface (``stimuli``, ``load``) for arrays already in RAM,
and a synthetic one (bright blobs that attract fixations) for tests and smoke runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class MemoryGroundTruth:
    """Like ``saliency.shards.GroundTruth`` but with the image in memory (``image``: (H, W, 3) uint8)."""

    stimulus: str
    image: np.ndarray
    density: np.ndarray
    fixations: pd.DataFrame
    image_path: str | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


class MemorySource:
    """``{name: MemoryGroundTruth}`` with the two methods the datasets need."""

    def __init__(self, items: Mapping[str, MemoryGroundTruth]) -> None:
        self._items = dict(items)

    @property
    def stimuli(self) -> list[str]:
        return sorted(self._items)

    def load(self, stimulus: str) -> MemoryGroundTruth:
        return self._items[stimulus]

    def iter_ground_truth(self, stimuli: list[str] | None = None) -> Iterator[MemoryGroundTruth]:
        for s in stimuli if stimuli is not None else self.stimuli:
            yield self._items[s]


def synthetic_source(n: int = 8, height: int = 24, width: int = 32, seed: int = 0,
                     n_fixations: int = 20) -> MemorySource:
    """``n`` random images, each with one bright disc; fixations drawn around the disc centre,
    densities are Gaussians there (σ = height/8 px)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    items = {}
    for k in range(n):
        cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
        sigma = height / 8
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
        img = (rng.uniform(0, 80, (height, width, 3)) + 170 * g[..., None]).clip(0, 255).astype(np.uint8)
        x = np.clip(rng.normal(cx, sigma, n_fixations), 0, width - 1e-3)
        y = np.clip(rng.normal(cy, sigma, n_fixations), 0, height - 1e-3)
        dens = (g / g.sum()).astype(np.float32)
        name = f"synthetic{k:03d}"
        items[name] = MemoryGroundTruth(name, img, dens, pd.DataFrame({"x": x, "y": y}))
    return MemorySource(items)
