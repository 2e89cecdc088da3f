"""Weight-average a SOD run's ``best.pt`` and ``last.pt`` into a new run directory (run:
``python benchmarks/sod_average.py RUN_DIR --out AVG_RUN_DIR``), for ``benchmarks/sod_retune.py``.

The released ``sod`` model is such an average of the ``sod_cpu320`` run (epoch 9, the best validation MAE,
and epoch 18, the end of the cosine schedule), re-tuned on the validation split (docs/sod.md).
:func:`saliency.training.checkpoint.average_state_dicts` averages every floating-point tensor (BatchNorm
running statistics included); the SOD head's calibration is reset to the identity (the two checkpoints
carry different ones; ``sod_retune.py`` refits it on the validation split). ``AVG_RUN_DIR`` gets
``config.toml``, ``splits.json``, ``metrics.jsonl`` (the training history) and ``checkpoints/best.pt`` (the
average, with last.pt's metadata and ``averaged_from``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch


def average_run(run: Path, out: Path) -> Path:
    """Write ``out`` (see the module docstring); returns the averaged checkpoint's path."""
    from saliency.training.checkpoint import average_state_dicts, load_checkpoint, save_checkpoint

    best = load_checkpoint(run / "checkpoints" / "best.pt", map_location="cpu")
    last = load_checkpoint(run / "checkpoints" / "last.pt", map_location="cpu")
    model = average_state_dicts([best["model"], last["model"]])
    if "head.calibration" in model:
        model["head.calibration"] = torch.tensor([1.0, 0.0], dtype=model["head.calibration"].dtype)
    ck = {k: v for k, v in last.items() if k not in ("optimizer", "scheduler", "scaler", "rng")}
    ck["model"] = model
    ck["averaged_from"] = [f"best.pt (epoch {best['epoch']})", f"last.pt (epoch {last['epoch']})"]
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    for name in ("config.toml", "splits.json", "metrics.jsonl"):
        shutil.copyfile(run / name, out / name)
    path = out / "checkpoints" / "best.pt"
    save_checkpoint(path, ck)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    print(average_run(args.run, args.out))


if __name__ == "__main__":
    main()
