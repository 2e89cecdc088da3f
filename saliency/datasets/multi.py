"""Several datasets in one training run: per-dataset splits and weighted sampling of single-dataset batches.

A run names its shard sets (``data.datasets = ["osie", "mit1003"]``, each a name under ``outputs/<name>/shards``
or a shards path); each keeps its own hash split (:func:`saliency.datasets.splits.make_splits`, recorded per
dataset). :class:`MultiDatasetBatches` draws batches that each come from **one** dataset (so per-dataset
parameters such as a centre bias apply to the whole batch): an epoch has ⌈Σ n_d / batch⌉ batches; batch b picks
dataset d with probability ∝ weight_d · n_d (weights default 1 → proportional to the number of training
images; weight_d = 1/n_d → datasets equally often), and within a dataset the images follow a seeded
permutation, cycled when it runs out. Deterministic in (seed, epoch).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from saliency.errors import ConfigError


@dataclass(frozen=True)
class MultiDatasetBatches:
    """sizes: dataset → number of training items; weights: dataset → sampling weight (default 1)."""

    sizes: Mapping[str, int]
    batch_size: int
    weights: Mapping[str, float] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"MultiDatasetBatches.batch_size must be ≥ 1, got {self.batch_size}")
        if not self.sizes or any(n < 1 for n in self.sizes.values()):
            raise ConfigError(f"MultiDatasetBatches: every dataset needs ≥ 1 item, got {dict(self.sizes)}")
        for name in (self.weights or {}):
            if name not in self.sizes:
                raise ConfigError(f"MultiDatasetBatches.weights: unknown dataset {name!r}; "
                                  f"known: {', '.join(self.sizes)}")

    @property
    def names(self) -> list[str]:
        return list(self.sizes)

    def probabilities(self) -> np.ndarray:
        w = np.array([float((self.weights or {}).get(n, 1.0)) * self.sizes[n] for n in self.names])
        if (w < 0).any() or w.sum() <= 0:
            raise ConfigError(f"MultiDatasetBatches.weights must be ≥ 0 and not all 0, got {self.weights}")
        return w / w.sum()

    def __len__(self) -> int:
        return math.ceil(sum(self.sizes.values()) / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (dataset name, item indices of one batch) for one epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        p = self.probabilities()
        perms = {n: rng.permutation(self.sizes[n]) for n in self.names}
        pos = dict.fromkeys(self.names, 0)
        for d in rng.choice(len(self.names), size=len(self), p=p):
            name = self.names[d]
            n = self.sizes[name]
            k = min(self.batch_size, n)
            idx = np.take(perms[name], np.arange(pos[name], pos[name] + k), mode="wrap")
            pos[name] = (pos[name] + k) % n
            yield name, idx


def dataset_splits(stimuli: Mapping[str, Sequence[str]], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                   salt: str = "") -> dict[str, dict[str, list[str]]]:
    """dataset → its own hash split {"train", "val", "test"} (recorded per dataset in the run)."""
    from saliency.datasets.splits import make_splits

    return {name: make_splits(names, fractions, salt) for name, names in stimuli.items()}
