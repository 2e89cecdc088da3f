"""Deterministic train/val/test splits by stimulus hash.

A stimulus goes to a split by ``u = int(sha1(f"{salt}{name}").hexdigest()[:15], 16) / 16**15`` ∈ [0, 1):
``u < f_train`` → train, ``u < f_train + f_val`` → val, else test. The assignment depends only on the
name, the salt and the fractions: it never changes when stimuli are added or removed, is identical on
every machine and process, and is recorded in the run directory as ``splits.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from saliency.errors import ConfigError
from saliency.io import write_json

SPLITS = ("train", "val", "test")


def stimulus_unit(name: str, salt: str = "") -> float:
    """The stimulus' position in [0, 1) from the SHA-1 of ``salt + name`` (first 60 bits)."""
    digest = hashlib.sha1(f"{salt}{name}".encode()).hexdigest()
    return int(digest[:15], 16) / float(16**15)


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ConfigError(f"data.split_fractions must be three non-negative numbers summing to 1 "
                          f"(train, val, test), got {list(fractions)}")
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def split_of(name: str, fractions: Sequence[float] = (0.8, 0.1, 0.1), salt: str = "") -> str:
    """``"train"``, ``"val"`` or ``"test"`` for one stimulus name."""
    f_train, f_val, _ = check_fractions(fractions)
    u = stimulus_unit(name, salt)
    if u < f_train:
        return "train"
    if u < f_train + f_val:
        return "val"
    return "test"


def make_splits(names: Iterable[str], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                salt: str = "") -> dict[str, list[str]]:
    """Split stimulus names into sorted ``{"train": [...], "val": [...], "test": [...]}``."""
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for name in sorted(set(names)):
        out[split_of(name, fractions, salt)].append(name)
    return out


def write_splits(path: str | Path, splits: dict[str, list[str]], *, fractions: Sequence[float],
                 salt: str, dataset: str) -> None:
    """Record a split (and how it was drawn) as JSON."""
    write_json(path, {"dataset": dataset, "method": "sha1(salt + stimulus) / 16**15 < cumulative fraction",
                      "fractions": list(fractions), "salt": salt,
                      "counts": {k: len(v) for k, v in splits.items()}, "splits": splits})
