"""SOD ablation: what each part of the SOD recipe is worth (run: ``python benchmarks/sod_ablation.py``).

Trains small variants of ``pipelines/configs/sod_cpu.toml`` (same split, seed, augmentation, TTA and
calibration; a reduced budget: ``--size`` px canvas, ``--epochs`` epochs of which ``--freeze`` with the
encoder frozen) that each remove one ingredient, and scores each on the SOD test split (76 images,
PySODMetrics conventions, original resolution):

* ``full``: EfficientNet-Lite2 + SOD decoder (CBAM skips, non-local context), deep supervision,
  structure + edge loss, flip TTA, validation calibration;
* ``encoder lite0``: EfficientNet-Lite0 instead of Lite2;
* ``no decoder attention``: ``skip_block = "none"``, ``context = "none"`` (global pooling branch kept);
* ``no deep supervision``: ``loss.deep_supervision = 0``;
* ``structure loss only``: no edge term;
* ``U-Net decoder``: the plain U-Net decoder of ``sod_effnet_lite2`` (no attention, no side outputs);
* ``full, no TTA`` / ``full, no calibration``: the ``full`` checkpoint scored without flip TTA /
  with the calibration reset to the identity (no retraining).

``--evaluate RUN_DIR`` only prints the test-time rows (TTA / calibration on and off) for an existing
run directory (e.g. the full recipe's). Prints a markdown table; writes ``<out>/ablation.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "pipelines" / "configs" / "sod_cpu.toml"
METRICS = (("max_fm", "max F"), ("mae", "MAE"), ("sm", "S"), ("wfm", "weighted F"))
VARIANTS: dict[str, list[str]] = {
    "full": [],
    "encoder lite0": ['model.name="sodnet_lite0"'],
    "no decoder attention": ['model.options={skip_block = "none", context = "none"}'],
    "no deep supervision": ["loss.deep_supervision=0.0"],
    "structure loss only": ["loss.weights={structure = 1.0}"],
    "U-Net decoder": ['model.name="sod_effnet_lite2"', "loss.deep_supervision=0.0"],
}


def test_time_rows(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The run's own test scores (TTA + calibration) and its chosen checkpoint re-scored on the test split
    without flip TTA / with the calibration reset to the identity."""
    from saliency.datasets import SODFolder
    from saliency.training import load_config, load_model
    from saliency.training.data import build_run_data, resolve_path
    from saliency.training.evaluation import evaluate_sod

    cfg = load_config(run_dir / "config.toml")
    data = build_run_data(cfg)
    folder = SODFolder(resolve_path(cfg.data.sod_root))
    ck = run_dir / "checkpoints" / "best.pt"
    model = load_model(ck if ck.is_file() else run_dir / "checkpoints" / "last.pt")
    canvas = (cfg.data.height, cfg.data.width)
    dev = torch.device("cpu")
    rows = {}
    rows["TTA + calibration"] = json.loads((run_dir / "eval" / cfg.data.dataset / "summary.json").read_text())
    for label, tta, calibrated in (("no TTA", False, True), ("no calibration", True, False)):
        saved = model.head.calibration.clone()
        if not calibrated:
            model.head.calibration.copy_(torch.tensor([1.0, 0.0]))
        _, summary = evaluate_sod(model, folder, data.splits["test"], canvas, dev, tta_flip=tta)
        model.head.calibration.copy_(saved)
        rows[label] = summary
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/sod_ablation"))
    ap.add_argument("--size", type=int, default=128, help="canvas side (px)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--freeze", type=int, default=2, help="epochs with the encoder frozen")
    ap.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    ap.add_argument("--evaluate", type=Path, help="only score this run directory with TTA/calibration toggled")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.evaluate:
        rows = test_time_rows(args.evaluate)
        print(_table(rows, {}))
        return
    from saliency.training import load_config, train

    results: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    for name, extra in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        overrides = [f"data.height={args.size}", f"data.width={args.size}", f"train.epochs={args.epochs}",
                     f"train.freeze_encoder_epochs={args.freeze}", "data.num_workers=0", *extra]
        cfg = load_config(RECIPE, overrides)
        run_dir = args.out / name.replace(" ", "_")
        t0 = time.perf_counter()
        res = train(cfg, run_dir=run_dir)
        seconds[name] = time.perf_counter() - t0
        results[name] = res.evaluation[cfg.data.dataset]
        print(f"{name}: {seconds[name]:.0f} s {json.dumps({k: results[name][k] for k, _ in METRICS})}", flush=True)
        if name == "full":
            tt = test_time_rows(run_dir)
            results["full, no TTA"] = tt["no TTA"]
            results["full, no calibration"] = tt["no calibration"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablation.json").write_text(json.dumps({"results": results, "seconds": seconds,
                                                        "budget": vars(args) | {"out": str(args.out)}},
                                                       indent=1, default=str))
    print(_table(results, seconds))


def _table(rows: dict[str, dict[str, Any]], seconds: dict[str, float]) -> str:
    head = "| variant | " + " | ".join(label for _, label in METRICS) + " | train s |"
    lines = [head, "|---|" + "---:|" * (len(METRICS) + 1)]
    for name, s in rows.items():
        t = f"{seconds[name]:.0f}" if name in seconds else "–"
        lines.append(f"| {name} | " + " | ".join(f"{s[k]:.4f}" for k, _ in METRICS) + f" | {t} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
