"""Collect a report's data from a run directory.

Two layouts are understood:

* a **pipeline output directory** (``saliency run``): ``manifest.json``, ``ingest/ingest_report.json``,
  ``maps/shards/``, ``baselines/summary.json``, ``train/`` (a training run directory),
  ``evaluate/{summary.json, per_image.parquet, info.json}``;
* a **training run directory** (``saliency train``): ``metrics.jsonl``, ``checkpoints/best.pt``,
  ``eval/<dataset>/{summary.json, per_image.parquet}``.

Gallery predictions and attention maps are computed from the checkpoint for the few stimuli shown
(torch is imported only then).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, SchemaError
from saliency.reports.report import GalleryItem, ReportData, display_name, find_key

#: Per-image metrics where lower is better (errors and divergences); every other metric: higher is better.
LOWER_IS_BETTER = {"mae", "kl", "kldiv", "kl_div", "emd"}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SchemaError(f"{path}: not valid JSON ({exc})") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; a truncated last line (a run still writing) is ignored."""
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            if i == len(lines):
                break
            raise SchemaError(f"{path}:{i}: not a JSON record") from None
        if isinstance(rec, dict):
            out.append(rec)
    return out


def rank_stimuli(per_image: pd.DataFrame, rank_by: str, k: int) -> tuple[list[str], list[str]]:
    """(best k, worst k) stimuli by ``rank_by`` (higher is better, except error metrics like MAE/KL)."""
    col = find_key(dict.fromkeys(per_image.columns), rank_by)
    if col is None:
        raise ConfigError(f"cannot rank by {rank_by!r}: per-image columns are {list(per_image.columns)}")
    rank_by = col
    df = per_image[["stimulus", rank_by]].dropna()
    lower_better = rank_by.lower() in LOWER_IS_BETTER
    df = df.sort_values([rank_by, "stimulus"], ascending=[lower_better, True], kind="mergesort")
    best = list(df["stimulus"].head(k))
    worst = [s for s in reversed(list(df["stimulus"].tail(k))) if s not in best]
    return best, worst


def find_train_dir(run: Path) -> Path | None:
    for cand in (run / "train", run):
        if ((cand / "metrics.jsonl").is_file() or (cand / "checkpoints").is_dir()
                or (cand / "model" / "spec.json").is_file()):
            return cand
    return None


def find_checkpoint(train_dir: Path | None) -> Path | None:
    """The model of a run folder: ``checkpoints/best.pt``, else ``checkpoints/last.pt``, else ``model/`` (a
    readout run's released-model folder with its ``spec.json``); None if there is none. Load any of them
    with :func:`saliency.training.predict.resolve_model`."""
    if train_dir is None:
        return None
    for name in ("best.pt", "last.pt"):
        p = train_dir / "checkpoints" / name
        if p.is_file():
            return p
    if (train_dir / "model" / "spec.json").is_file():
        return train_dir / "model"
    return None


def load_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def model_gallery_loader(checkpoint: Path, *, task: str, shards_root: Path | None = None,
                         stimuli_info: Mapping[str, Mapping[str, str]] | None = None,
                         sod_root: str | Path | None = None) -> Callable[[str], GalleryItem]:
    """A function stimulus → :class:`GalleryItem` using the model of ``checkpoint`` (a ``.pt`` file or a
    released-model folder, see :func:`find_checkpoint`).

    Fixation task: image, density and fixations from the shards; prediction from
    ``saliency.training.predict_maps`` (log-density at the original size). SOD: image and mask paths from
    ``stimuli_info`` (stimulus → {"image_path", "mask_path"}), masks through ``SODFolder(sod_root).mask``
    when ``sod_root`` is given (it rights the masks stored transposed). Attention maps: the panels of
    ``saliency show --attention`` (:func:`saliency.models.introspect.attention_on_image`: the image
    letterboxed onto the model's canvas, every spatial map brought back to the image's size). A model
    without attention blocks gives none (the gallery says so).
    """
    from saliency.models.introspect import attention_on_image
    from saliency.training import predict_maps
    from saliency.training.predict import resolve_model

    model = resolve_model(checkpoint)
    model.eval()
    shards = None
    if task == "fixation":
        if shards_root is None:
            raise ConfigError("a fixation-task gallery needs the shards (maps stage output)")
        from saliency.shards import open_shards

        shards = open_shards(shards_root)
    sod_folder = None
    if task == "sod" and sod_root is not None:
        from saliency.datasets.fixation import SODFolder

        sod_folder = SODFolder(sod_root)

    def load(stimulus: str) -> GalleryItem:
        truth, fix = None, None
        if shards is not None:
            gt = shards.load(stimulus)
            image_path = Path(gt.image_path)
            truth = gt.density
            fix = (gt.fixations["x"].to_numpy(float), gt.fixations["y"].to_numpy(float))
        else:
            info = (stimuli_info or {}).get(stimulus)
            if info is None:
                raise ConfigError(f"no image path recorded for stimulus {stimulus!r}")
            image_path = Path(info["image_path"])
            if sod_folder is not None:
                truth = sod_folder.mask(stimulus).astype(np.float32)  # upright even where stored transposed
            elif info.get("mask_path"):
                truth = (load_image(info["mask_path"])[..., 0] > 127).astype(np.float32)
        image = load_image(image_path)
        (_, pred), = list(predict_maps(model, [image_path]))
        attention = attention_on_image(model, image, canvas=getattr(model, "canvas", None))
        return GalleryItem(stimulus=stimulus, image=image, prediction=np.asarray(pred, np.float32),
                           truth=truth, fixations=fix, attention=dict(attention),
                           log_density=(task == "fixation"))

    return load


def collect(run: str | Path, *, gallery_k: int = 3, rank_by: str | None = None, title: str | None = None,
            gallery_loader: Callable[[str], GalleryItem] | None = None, with_gallery: bool = True
            ) -> ReportData:
    """Gather a :class:`ReportData` from a run directory (see module docstring for the layouts)."""
    run = Path(run).resolve()
    if not run.is_dir():
        raise ConfigError(f"{run}: run directory not found")
    notes: list[str] = []
    manifest = read_json(run / "manifest.json") if (run / "manifest.json").is_file() else None
    task = "fixation"
    info: dict[str, Any] = {"directory": str(run)}
    stages: list[dict[str, Any]] = []
    if manifest is not None:
        for name, rec in manifest.get("stages", {}).items():
            stages.append({"stage": name, **{k: rec.get(k) for k in ("status", "duration_s", "finished", "key")}})
            task = (rec.get("ingredients", {}).get("pipeline", {}) or {}).get("task", task)
            info.setdefault("dataset", (rec.get("ingredients", {}).get("pipeline", {}) or {}).get("dataset"))
    train_dir = find_train_dir(run)
    curves = read_jsonl(train_dir / "metrics.jsonl") if train_dir and (train_dir / "metrics.jsonl").is_file() else []

    # model evaluation: pipeline's evaluate/ first, else the training run's eval/<dataset>/
    eval_dir = run / "evaluate" if (run / "evaluate" / "summary.json").is_file() else None
    if eval_dir is None and train_dir is not None and (train_dir / "eval").is_dir():
        cands = sorted(p.parent for p in (train_dir / "eval").glob("*/summary.json"))
        eval_dir = cands[0] if cands else None
    summary = read_json(eval_dir / "summary.json") if eval_dir else None
    per_image = pd.read_parquet(eval_dir / "per_image.parquet") if eval_dir and (
        eval_dir / "per_image.parquet").is_file() else None
    eval_info = read_json(eval_dir / "info.json") if eval_dir and (eval_dir / "info.json").is_file() else {}
    task = eval_info.get("task", task)
    model_name = eval_info.get("model", "model")
    for k in ("dataset", "model", "split", "checkpoint", "n_images"):
        if eval_info.get(k) is not None:
            info[k] = eval_info[k]

    released = read_json(eval_dir / "released.json") if eval_dir and (eval_dir / "released.json").is_file() else {}
    baselines: dict[str, Any] = {}
    bfile = run / "baselines" / "summary.json"
    if bfile.is_file():
        baselines = dict(read_json(bfile).get("baselines", {}))
    ingest = None
    for cand in (run / "ingest" / "ingest_report.json", run / "ingest_report.json"):
        if cand.is_file():
            ingest = read_json(cand)
            break

    if summary is not None and baselines:
        bstim = None
        if bfile.is_file():
            bstim = read_json(bfile).get("stimuli")
        scored = eval_info.get("stimuli_scored") or (list(per_image["stimulus"]) if per_image is not None else None)
        if bstim is not None and scored is not None and sorted(bstim) != sorted(scored):
            notes.append(f"the baselines were scored on {len(bstim)} images and the model on {len(scored)} "
                         "different ones: the rows and the gap closed are not directly comparable")
    rank = rank_by or ("nss" if task == "fixation" else "MAE")
    best: list[GalleryItem] = []
    worst: list[GalleryItem] = []
    if with_gallery and per_image is not None and gallery_k > 0:
        if find_key(dict.fromkeys(per_image.columns), rank) is None:
            notes.append(f"gallery: per-image results have no {rank!r} column")
        else:
            loader = gallery_loader
            if loader is None:
                ckpt = find_checkpoint(train_dir)
                shards_root = run / "maps" / "shards"
                if ckpt is None:
                    notes.append("gallery: no checkpoint found")
                else:
                    loader = model_gallery_loader(
                        ckpt, task=task, shards_root=shards_root if shards_root.is_dir() else None,
                        stimuli_info=eval_info.get("stimuli"), sod_root=eval_info.get("sod_root"))
            if loader is not None:
                b, w = rank_stimuli(per_image, rank, gallery_k)
                rank = find_key(dict.fromkeys(per_image.columns), rank) or rank
                scores = per_image.set_index("stimulus")
                num = [c for c in per_image.columns if c not in ("stimulus", rank) and not c.startswith("n_")
                       and pd.api.types.is_numeric_dtype(per_image[c])]
                shown = [rank, *num[:3]]

                def item(s: str) -> GalleryItem:
                    it = loader(s)
                    it.scores = {display_name(c): float(scores.loc[s, c]) for c in shown}
                    return it

                best = [item(s) for s in b]
                worst = [item(s) for s in w]
    bench_file = run / "benchmark" / "benchmark.json"
    benchmark = []
    if bench_file.is_file():
        from saliency.reports.benchmark import read_benchmark

        benchmark = read_benchmark(bench_file)
    return ReportData(
        title=title or f"Saliency report: {info.get('dataset') or run.name}", task=task, model_name=model_name,
        benchmark=benchmark, released=released,
        model_summary=summary, baselines=baselines, per_image=per_image, curves=curves, ingest=ingest,
        best=best, worst=worst, rank_by=rank, info={k: v for k, v in info.items() if v is not None},
        stages=stages, notes=notes,
    )


def build_report(run: str | Path, out: str | Path | None = None, *, gallery_k: int = 3,
                 rank_by: str | None = None, title: str | None = None, with_gallery: bool = True,
                 gallery_loader: Callable[[str], GalleryItem] | None = None) -> Path:
    """Write ``report.html`` for a run directory (default: ``<run>/report/report.html`` for a pipeline
    directory, ``<run>/report.html`` otherwise); returns its path."""
    from saliency.reports.report import write_report

    run = Path(run)
    data = collect(run, gallery_k=gallery_k, rank_by=rank_by, title=title, with_gallery=with_gallery,
                   gallery_loader=gallery_loader)
    if out is None:
        out = run / "report" / "report.html" if (run / "manifest.json").is_file() else run / "report.html"
    return write_report(data, out)
