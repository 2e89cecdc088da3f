"""Fixtures for metrics tests: a few real OSIE images as an in-memory object with the ShardSet interface
— stimuli, manifest, fixations, meta, iter_ground_truth — built from fixations.mat."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

OSIE_SIGMA_PX = 24.0


@dataclass
class GT:
    stimulus: str
    image_path: str
    height: int
    width: int
    density: np.ndarray
    fixations: pd.DataFrame


class MemoryShards:
    def __init__(self, frame: pd.DataFrame, sizes: dict[str, tuple[int, int]], sigma_px: float) -> None:
        self.frame = frame
        self.sizes = sizes
        self.meta = {"dataset": "osie", "sigma_px": sigma_px}
        self.stimuli = sorted(sizes)
        self.manifest = pd.DataFrame({"stimulus": self.stimuli,
                                      "height": [sizes[s][0] for s in self.stimuli],
                                      "width": [sizes[s][1] for s in self.stimuli]})
        self.fixations = SimpleNamespace(data=frame)
        self._cache: dict[str, GT] = {}

    def load(self, s: str) -> GT:
        if s not in self._cache:
            h, w = self.sizes[s]
            f = self.frame[self.frame["stimulus"] == s].reset_index(drop=True)
            counts = np.zeros((h, w))
            np.add.at(counts, (f["y"].to_numpy().astype(int), f["x"].to_numpy().astype(int)), 1.0)
            d = gaussian_filter(counts, self.meta["sigma_px"], mode="constant")
            self._cache[s] = GT(s, s, h, w, (d / d.sum()).astype(np.float32), f)
        return self._cache[s]

    def density(self, s: str) -> np.ndarray:
        return self.load(s).density

    def iter_ground_truth(self, stimuli=None):
        for s in (self.stimuli if stimuli is None else stimuli):
            yield self.load(s)


def load_osie_frame(osie_dir, n_images: int | None = None) -> tuple[pd.DataFrame, dict[str, tuple[int, int]]]:
    """OSIE fixations.mat → canonical-ish frame (stimulus, observer, x, y; 0-based: x0 = x1 − 1)."""
    import scipy.io as sio

    m = sio.loadmat(osie_dir / "fixations.mat", squeeze_me=True, struct_as_record=False)["fixations"]
    rows = []
    for rec in m[:n_images]:
        for k, subj in enumerate(np.atleast_1d(rec.subjects)):
            xs = np.atleast_1d(subj.fix_x).astype(float) - 1.0
            ys = np.atleast_1d(subj.fix_y).astype(float) - 1.0
            ok = (xs >= 0) & (ys >= 0) & (xs < 800) & (ys < 600)
            for x, y in zip(xs[ok], ys[ok], strict=True):
                rows.append((str(rec.img), f"s{k:02d}", x, y))
    frame = pd.DataFrame(rows, columns=["stimulus", "observer", "x", "y"])
    sizes = {s: (600, 800) for s in frame["stimulus"].unique()}
    return frame, sizes


@pytest.fixture(scope="session")
def osie_shards(datasets_dir) -> MemoryShards:
    frame, sizes = load_osie_frame(datasets_dir / "osie", n_images=6)
    return MemoryShards(frame, sizes, OSIE_SIGMA_PX)
