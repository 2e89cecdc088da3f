"""Re-tune a trained SOD run's test-time settings on its VALIDATION split, without retraining
(run: ``python benchmarks/sod_retune.py RUN_DIR --out NEW_RUN_DIR [--candidates "1;1,1.2;0.8,1,1.2"]``).

1. Multi-scale TTA: each candidate ``train.tta_scales`` (``--candidates``: scale sets separated by ``;``,
   factors of the run's canvas by ``,``; default :data:`CANDIDATES`, flips on) is scored on the
   validation split with the run's calibration; the pick maximises validation ``max F + S − MAE`` (the
   three metrics of issue 17), ties within 0.001 going to fewer views.
2. Calibration: (a, b) refitted on the validation split for that TTA
   (:func:`saliency.training.calibration.fit_calibration`: grid start + Nelder–Mead on MAE + 1 − S).
3. The test split is scored once with the chosen settings.

``NEW_RUN_DIR`` is a run directory that ``saliency export released NEW_RUN_DIR --out DIR`` accepts:
``config.toml`` (with ``train.tta_scales``), ``splits.json``, ``metrics.jsonl`` (the training history),
``checkpoints/best.pt`` (calibrated, with the TTA scales), ``calibration.json``,
``eval/<dataset>/summary.json`` and ``retune.json`` (every validation row, the pick, the seconds).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch

CANDIDATES: tuple[tuple[float, ...], ...] = ((1.0,), (1.0, 4 / 3, 5 / 3), (1.0, 7 / 6, 4 / 3, 3 / 2, 5 / 3))
METRICS = (("max_fm", "max F"), ("mae", "MAE"), ("sm", "S"), ("wfm", "weighted F"))


def _key(s: dict[str, Any]) -> float:
    return float(s["max_fm"] + s["sm"] - s["mae"])


def parse_candidates(text: str) -> tuple[tuple[float, ...], ...]:
    """``"1;1,1.2"`` → ((1.0,), (1.0, 1.2)): scale sets separated by ``;``, factors by ``,`` (each in
    [0.25, 4], as ``train.tta_scales`` accepts). Raises ValueError on an empty set or a bad factor."""
    out = []
    for part in text.split(";"):
        scales = tuple(float(v) for v in part.split(",") if v.strip())
        if not scales or not all(0.25 <= v <= 4 for v in scales):
            raise ValueError(f"--candidates: {part!r} is not a list of scale factors in [0.25, 4]")
        out.append(scales)
    return tuple(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--candidates", default=None, help='TTA scale sets, e.g. "1;1,1.2;0.8,1,1.2"')
    args = ap.parse_args()
    try:
        candidates = parse_candidates(args.candidates) if args.candidates else CANDIDATES
    except ValueError as e:
        ap.error(str(e))
    torch.set_num_threads(1)
    from saliency.datasets import SODFolder
    from saliency.io import write_json
    from saliency.training import load_config, load_model
    from saliency.training.calibration import apply_calibration, fit_calibration
    from saliency.training.checkpoint import load_checkpoint, save_checkpoint
    from saliency.training.config import dump_config
    from saliency.training.data import resolve_path
    from saliency.training.evaluation import evaluate_sod

    t0 = time.perf_counter()
    cfg = load_config(args.run / "config.toml")
    splits = json.loads((args.run / "splits.json").read_text())["splits"]
    folder = SODFolder(resolve_path(cfg.data.sod_root))
    ck_path = args.run / "checkpoints" / "best.pt"
    model = load_model(ck_path)
    canvas, dev = (cfg.data.height, cfg.data.width), torch.device("cpu")
    rows: dict[str, dict[str, Any]] = {}
    for scales in candidates:
        model.tta_scales = scales
        _, rows[",".join(f"{s:.4g}" for s in scales)] = evaluate_sod(model, folder, splits["val"], canvas, dev)
        print(scales, {k: round(rows[",".join(f"{s:.4g}" for s in scales)][k], 4) for k, _ in METRICS}, flush=True)
    best = max(_key(r) for r in rows.values())
    pick = next(c for c in candidates if _key(rows[",".join(f"{s:.4g}" for s in c)]) >= best - 0.001)
    model.tta_scales = pick
    cal = fit_calibration(model, folder, splits["val"], canvas, dev, tta_flip=model.tta_flip, tta_scales=pick)
    apply_calibration(model, cal)
    print("picked", pick, cal, flush=True)
    _, val = evaluate_sod(model, folder, splits["val"], canvas, dev)
    _, test = evaluate_sod(model, folder, splits["test"], canvas, dev)
    out = args.out
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    (out / "eval" / cfg.data.dataset).mkdir(parents=True, exist_ok=True)
    new_cfg = load_config(args.run / "config.toml", [f"train.tta_scales={list(pick)}"])
    (out / "config.toml").write_text(dump_config(new_cfg))
    for name in ("splits.json", "metrics.jsonl"):
        shutil.copyfile(args.run / name, out / name)
    ck = load_checkpoint(ck_path, map_location="cpu")
    ck["model"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    ck["tta_scales"] = list(pick)
    save_checkpoint(out / "checkpoints" / "best.pt", ck)
    write_json(out / "calibration.json", {**cal.to_dict(), "checkpoint": "best.pt"})
    write_json(out / "eval" / cfg.data.dataset / "summary.json",
               {**test, "split": "test", "checkpoint": "best.pt"})
    seconds = time.perf_counter() - t0
    write_json(out / "retune.json", {"source_run": str(args.run), "val_candidates": rows, "pick": list(pick),
                                     "val_after": val, "test": test, "seconds": seconds})
    for label, s in (("val, picked + refitted", val), ("test", test)):
        print(label, {k: round(s[k], 4) for k, _ in METRICS}, flush=True)
    print(f"{seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
