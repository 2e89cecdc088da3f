"""Releasing a trained SaliencyNet run as a named model (``saliency.models.released`` format).

``release_run(run_dir, out_dir)`` reads the run's chosen checkpoint (``best.pt``, else ``last.pt``; with
its calibration and flip-TTA setting), its resolved ``config.toml``, ``eval/<dataset>/summary.json``,
``calibration.json`` and ``metrics.jsonl`` and writes ``model.safetensors`` (float16), ``spec.json`` and
``card.md`` through :func:`saliency.models.released.save_released` (``saliency export released``).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from saliency.errors import SchemaError

SOD_DATA_NOTE = ("SOD (Movahedi & Elder, CVPR-W 2010): 300 BSDS300 images (Berkeley Segmentation Dataset, "
                 "research use) with salient-object masks (MIT licence, ArcherFMY 2017, "
                 "LICENSE-masks in the dataset folder)")
CARD_METRICS = (("max_fm", "max F (β²=0.3)"), ("mae", "MAE"), ("sm", "S-measure"), ("wfm", "weighted F"),
                ("mean_fm", "mean F"), ("max_em", "max E"))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SchemaError(f"{path}: unreadable ({e})") from None


def release_run(run_dir: str | Path, out_dir: str | Path, *, description: str = "",
                commit: str = "") -> Path:
    """Write the released-model folder ``out_dir`` for the training run ``run_dir``; returns it."""
    from saliency.models.released import save_released
    from saliency.training.predict import load_model

    run = Path(run_dir)
    ck = run / "checkpoints" / "best.pt"
    ck = ck if ck.is_file() else run / "checkpoints" / "last.pt"
    model = load_model(ck)
    cfg_path = run / "config.toml"
    try:
        cfg = tomllib.loads(cfg_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SchemaError(f"{cfg_path}: unreadable run config ({e})") from None
    dataset = cfg["data"]["dataset"]
    summary = _read_json(run / "eval" / dataset / "summary.json")
    cal = _read_json(run / "calibration.json") if (run / "calibration.json").is_file() else None
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    train_s = sum(float(r.get("epoch_s", 0)) for r in history)
    task = getattr(model, "task", "fixation")
    scores = {k: float(summary[k]) for k, _ in CARD_METRICS if k in summary}
    spec = {
        "kind": "saliency_net", "config": model.config.to_dict(), "task": task,
        "canvas": [int(v) for v in model.canvas], "tta_flip": bool(getattr(model, "tta_flip", False)),
        "tta_scales": [float(s) for s in getattr(model, "tta_scales", (1.0,))],
        "description": description or model.config.description,
        "training": {"dataset": dataset, "split": {"fractions": cfg["data"]["split_fractions"],
                                                    "salt": cfg["data"]["split_salt"]},
                     "recipe": cfg, "epochs": len(history), "train_seconds": round(train_s, 1),
                     "checkpoint": ck.name, "commit": commit, "calibration": cal},
        "scores": {f"{dataset}_test": scores, "n_images": summary.get("n_images"),
                   "conventions": summary.get("implementation", "")},
        "licence": SOD_DATA_NOTE if task == "sod" else "",
    }
    save_released(out_dir, model, spec, _card(Path(out_dir).name, spec, summary))
    return Path(out_dir)


def _card(name: str, spec: dict[str, Any], summary: dict[str, Any]) -> str:
    t = spec["training"]
    cal = t.get("calibration") or {}
    rows = "\n".join(f"| {label} | {summary[k]:.4f} |" for k, label in CARD_METRICS if k in summary)
    model = spec["config"]
    return f"""# Released model `{name}`

{spec['description']}

* **Task**: {spec['task']} ({'per-pixel logits; `saliency predict` writes probabilities' if spec['task'] == 'sod'
                              else 'log-density'}), canvas {spec['canvas'][0]}×{spec['canvas'][1]} px (letterbox),
  flip TTA {'on' if spec['tta_flip'] else 'off'}, canvas scales {spec.get('tta_scales', [1.0])} averaged.
* **Network**: zoo `{model['name']}` — encoder `{model['encoder']}` (ImageNet initialisation), decoder
  `{model.get('decoder', 'unet')}` (skips `{model.get('skip_block', 'none')}`, context
  `{model.get("context", "none")}`); float16 weights (loaded as float32).
* **Training data**: {spec['licence'] or t['dataset']}; split by stimulus hash
  {t['split']['fractions']} (train / val / test), salt "{t['split']['salt']}".
* **Recipe**: {t['epochs']} epochs, {t['train_seconds'] / 60:.1f} min of training on one CPU thread (loaded
  machine), commit {t['commit'] or '(see spec.json)'}; full resolved recipe in `spec.json`.
* **Calibration** (validation split): sigmoid(a·z + b) with a = {cal.get('a', 1.0):.4g}, b = {cal.get('b', 0.0):.4g}
  (validation MAE {cal.get('val_mae_before', float('nan')):.4f} → {cal.get('val_mae_after', float('nan')):.4f};
  objective: {cal.get('objective', 'validation MAE')}).

## Scores: {t['dataset']} test split ({summary.get('n_images')} images, original resolution, PySODMetrics conventions)

| metric | value |
|---|---:|
{rows}

Intended use: research on salient-object detection; not for decisions about people. Limitations: trained on
~200 natural photographs (BSDS): other domains (documents, medical, synthetic) are out of distribution.
"""
