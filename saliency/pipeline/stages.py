"""The real stages: thin adapters from a pipeline table to the library APIs of each area.

Each stage writes into its own directory under the pipeline output (``<out>/<stage>/``):

=========  ==========================================================================================
stage      output
=========  ==========================================================================================
ingest     ``fixations.parquet`` (the canonical table), ``ingest_report.json`` (kept/dropped per reason)
maps       ``shards/`` (``saliency.shards.open_shards`` reads it)
baselines  ``summary.json`` ({"baselines": {name: summary}}), ``<name>/per_image.parquet``
train      a training run directory: ``config.toml``, ``checkpoints/``, ``metrics.jsonl``...
evaluate   ``summary.json``, ``per_image.parquet``, ``info.json`` (model, split, checkpoint, stimuli)
report     ``report.html``
=========  ==========================================================================================

Library modules are imported inside the stage functions, so a pipeline that does not use a stage
does not need its area installed; a stage's cache key hashes the source of its function's import closure
(:mod:`saliency.pipeline.closure`), so editing any module a stage can run invalidates it.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any

from pydantic import create_model

from saliency.errors import ConfigError
from saliency.io import atomic_path, read_toml, write_json
from saliency.pipeline.runner import Stage, StageContext
from saliency.pipeline.spec import PipelineSpec
from saliency.pipeline.stage_settings import (
    BaselinesSettings,
    EvaluateSettings,
    IngestSettings,
    ReportSettings,
    ShardSettings,
    TrainSettings,
)
from saliency.registry import Registry
from saliency.settings import Settings

STAGES: Registry[Stage] = Registry("pipeline stage")


@cache
def maps_settings() -> type[Settings]:
    """``[maps]``: every field of ``saliency.maps.MapOptions`` (same defaults) plus ``[maps.shards]``."""
    from saliency.maps import MapOptions

    hints = typing.get_type_hints(MapOptions)
    fields: dict[str, Any] = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(MapOptions)
                              if f.name != "selection"}
    # a convention name of the dataset card, a selection's text form, or a table of its fields
    fields["selection"] = (str | dict[str, Any] | None, None)
    return create_model("MapsSettings", __base__=Settings, shards=(ShardSettings, ShardSettings()), **fields)


def _settings_model(stage: str) -> type[Settings]:
    if stage == "maps":
        return maps_settings()
    return {"ingest": IngestSettings, "baselines": BaselinesSettings, "train": TrainSettings,
            "evaluate": EvaluateSettings, "report": ReportSettings}[stage]


def check_stage_settings(spec: PipelineSpec, stage: str) -> None:
    """Validate ``[stage]`` of ``spec`` without running it (for ``train``: the whole resolved recipe, as a
    :class:`saliency.training.RunConfig`); errors name the dotted key (``train.optim.lr``)."""
    where = str(spec.source) if spec.source is not None else ""
    s = _settings_model(stage).from_dict(spec.stage_settings(stage), prefix=f"{stage}.", where=where)
    if stage == "evaluate" and spec.task == "sod" and {"metrics", "convention"} & s.model_fields_set:
        raise ConfigError(f"{where + ': ' if where else ''}evaluate: metrics/convention apply to the fixation "
                          "task only (SOD scores every PySODMetrics measure)")
    if stage == "train":
        from saliency.training import RunConfig

        d = resolve_train_dict(spec, spec.stage_settings("train"), shards=Path("shards"), out_dir=spec.out / "train")
        RunConfig.from_dict(d, prefix="train.", where=where)


# ------------------------------------------------------------------------------------------ ingest
def _ingest_inputs(spec: PipelineSpec, s: dict[str, Any]) -> list[Path]:
    return [spec.resolve_data(s.get("path") or spec.dataset)]


def run_ingest(ctx: StageContext) -> None:
    """Read the dataset's recordings into the canonical fixation table (``saliency.ingest.ingest``).

    Settings: :class:`saliency.pipeline.stage_settings.IngestSettings` (``max_stimuli`` > 0: the first n
    stimuli by name, for quick runs, recorded in the report's ``subset``).
    """
    from saliency.ingest import ingest
    from saliency.readers.base import ReadOptions
    from saliency.readers.request import ReadRequest

    s = IngestSettings.from_dict(ctx.settings, prefix="ingest.")
    root = ctx.spec.resolve_data(s.path or ctx.spec.dataset)
    options = ReadOptions(on_error=s.on_error, out_of_stimulus=s.out_of_stimulus)
    request = ReadRequest(ctx.spec.dataset, options=options)
    if s.pixels_per_degree is not None:
        request = dataclasses.replace(request, pixels_per_degree=s.pixels_per_degree)
    max_stimuli = s.max_stimuli
    res = ingest(s.reader, [root], dataset=ctx.spec.dataset, out=ctx.out_dir, request=request, workers=1,
                 card=s.card, drop_first=s.drop_first, min_duration_ms=s.min_duration_ms,
                 max_duration_ms=s.max_duration_ms)
    table, report = res.table, dict(res.report)
    if max_stimuli > 0:
        subset = table.select_stimuli(sorted(table.meta.stimuli)[:max_stimuli])
        report["subset"] = {"max_stimuli": max_stimuli, "fixations_before": len(table), "fixations_after": len(subset),
                            "rule": "the first max_stimuli stimuli by name"}
        table = subset
        table.write_parquet(ctx.out_dir / "fixations.parquet")
        write_json(ctx.out_dir / "ingest_report.json", report)
    ctx.summary.update(fixations=len(table), stimuli=len(table.meta.stimuli), dropped=res.accounting.total_dropped)


# -------------------------------------------------------------------------------------------- maps
def run_maps(ctx: StageContext) -> None:
    """Gaussian ground-truth maps in checksummed shards (``saliency.shards.build_shards``).

    Settings: those of ``saliency.maps.MapOptions`` (``sigma``, ``sigma_unit``, ``mode``, ``truncate``,
    ``duration_weighted``, ``observer_equal``, ``drop_first``, ``fc_cycles``, ``binary``, ``selection``: a convention
    of the dataset card such as ``"benchmark"`` or a selection's text form such as ``"drop-first"``) plus
    ``shards``, a table of ``build_shards`` options (``dtype``, ``fmt``, ``shard_size``, ``workers``):
    see :func:`maps_settings`.
    """
    from saliency.fixations.table import FixationTable
    from saliency.maps import MapOptions
    from saliency.shards import build_shards

    s = maps_settings().from_dict(ctx.settings, prefix="maps.")
    shard_kw = s.shards.model_dump()
    kw = {f.name: getattr(s, f.name) for f in dataclasses.fields(MapOptions)}
    table = FixationTable.read_parquet(ctx.upstream["ingest"] / "fixations.parquet")
    if kw["selection"] is None:
        del kw["selection"]
    elif isinstance(kw["selection"], str):
        from saliency.ingest import resolve_selection

        kw["selection"] = resolve_selection(kw["selection"], ctx.spec.dataset)
    options = MapOptions(**kw)
    build_shards(table, ctx.out_dir / "shards", options, **shard_kw)
    ctx.summary.update(stimuli=len(table.meta.stimuli), selection=options.effective_selection.describe())


# --------------------------------------------------------------------------------------- baselines
def _baseline_split(spec: PipelineSpec, s: Mapping[str, Any]) -> tuple[str, int]:
    """(split, limit) the baselines are scored on: by default the evaluate stage's, so that the model and
    the baselines are compared on the same images ("all" when the pipeline trains nothing)."""
    ev = spec.settings.get("evaluate", {})
    default = str(ev.get("split", "test")) if "train" in spec.stages else "all"
    split = str(s.get("split") or default)
    limit = int(s.get("limit") if s.get("limit") is not None else (ev.get("limit", 0) if "split" not in s else 0))
    return split, limit


def _baselines_key_extra(spec: PipelineSpec, s: dict[str, Any]) -> dict[str, Any]:
    """The split rule the baselines stage uses (train stage data settings), hashed into its key."""
    split, limit = _baseline_split(spec, s)
    if "train" not in spec.stages:
        return {"split": split, "limit": limit}
    data = resolve_train_dict(spec, spec.stage_settings("train"), shards=Path("shards"),
                              out_dir=spec.out / "train").get("data", {})
    rule = {k: data.get(k) for k in ("split_fractions", "split_salt", "limit_train", "limit_val", "limit_test")}
    return {"split": split, "limit": limit, "rule": rule}


def split_stimuli(spec: PipelineSpec, stimuli: list[str], split: str, limit: int = 0) -> list[str]:
    """The stimuli of ``split`` exactly as the train stage will split them (``saliency.datasets.make_splits``
    with the recipe's fractions, salt and ``limit_*``), then the first ``limit`` (0 = all)."""
    if "train" not in spec.stages:
        if split != "all":
            raise ConfigError(f"[baselines].split: {split!r} needs a train stage (its split rule); use 'all'")
        out = sorted(stimuli)
    else:
        from saliency.datasets.splits import make_splits
        from saliency.training import RunConfig

        d = RunConfig.from_dict(resolve_train_dict(spec, spec.stage_settings("train"), shards=Path("shards"),
                                                   out_dir=spec.out / "train")).data
        splits = make_splits(stimuli, d.split_fractions, d.split_salt)
        for key, lim in (("train", d.limit_train), ("val", d.limit_val), ("test", d.limit_test)):
            if lim > 0:
                splits[key] = splits[key][:lim]
        if split == "all":  # as the evaluate stage: every stimulus the run's splits hold
            out = sorted(s for v in splits.values() for s in v)
        elif split not in splits:
            raise ConfigError(f"[baselines].split: {split!r} not in {sorted(splits)} (or 'all')")
        else:
            out = list(splits[split]) or (list(splits["val"]) if split == "test" else [])
    return out[:limit] if limit > 0 else out


def run_baselines(ctx: StageContext) -> None:
    """Baseline rows (chance, centre bias, gold standard LOO, one human) on the same metrics as the model.

    Settings (:class:`saliency.pipeline.stage_settings.BaselinesSettings`): ``names`` (default: all of
    ``saliency.baselines.BASELINES``), ``metrics``, ``convention``, ``sigma_px``, ``seed`` (default the
    pipeline seed), ``split`` and ``limit`` (default: the evaluate stage's, i.e. the model's test images,
    split by the train stage's rule; ``"all"`` scores every image). The centre-bias Gaussian is fitted
    to the fixations of the images *not* scored.
    """
    import saliency.baselines as B
    from saliency.shards import open_shards

    s = BaselinesSettings.from_dict(ctx.settings, prefix="baselines.")
    split, limit = _baseline_split(ctx.spec, ctx.settings)
    shards = open_shards(ctx.upstream["maps"] / "shards")
    stimuli = split_stimuli(ctx.spec, list(shards.stimuli), split, limit)
    if not stimuli:
        raise ConfigError(f"[baselines]: split {split!r} is empty")
    kw: dict[str, Any] = {"seed": ctx.spec.seed if s.seed is None else s.seed}
    if s.names is not None:
        kw["which"] = s.names
    if s.metrics is not None:
        kw["metrics"] = list(s.metrics)
    if s.convention is not None:
        kw["convention"] = s.convention
    if s.sigma_px is not None:
        kw["sigma_px"] = s.sigma_px
    results = B.compute_baselines(shards, stimuli=stimuli, **kw)
    rows = {}
    for name, res in results.items():
        rows[name] = {**res.summary, "split": split}
        with atomic_path(ctx.out_dir / name / "per_image.parquet") as tmp:
            res.per_image.to_parquet(tmp, index=False)
    write_json(ctx.out_dir / "summary.json", {"baselines": rows, "split": split, "stimuli": sorted(stimuli)})
    ctx.summary.update(images=len(stimuli), split=split)
    ctx.summary.update({f"{n}.nss": r.get("nss") for n, r in rows.items() if "nss" in r})


# ------------------------------------------------------------------------------------------- train

def _train_recipe(spec: PipelineSpec, _s: dict[str, Any]) -> list[Path]:
    """The train stage's recipe file (the baselines stage reads its split rule)."""
    recipe = spec.settings.get("train", {}).get("recipe")
    return [spec.resolve_file(recipe)] if recipe and "train" in spec.stages else []


def _train_inputs(spec: PipelineSpec, s: dict[str, Any]) -> list[Path]:
    out = []
    if s.get("recipe"):
        out.append(spec.resolve_file(s["recipe"]))
    if spec.task == "sod":
        out.append(spec.resolve_data(s.get("path", spec.dataset)))
    return out


def resolve_train_dict(spec: PipelineSpec, settings: Mapping[str, Any], *, shards: Path,
                       out_dir: Path) -> dict[str, Any]:
    """The training recipe: ``recipe`` file (if any) ← the stage table's recipe tables ← pipeline data.

    The pipeline owns the data location (``shards``, the maps stage output; for SOD ``path``, relative
    to data_root), the run name/folder (``out_dir``) and the seed default; any recipe value for those is
    replaced.
    """

    from saliency.pipeline.spec import deep_merge

    s = dict(settings)
    base: dict[str, Any] = {}
    recipe = s.pop("recipe", None)
    data_path = s.pop("path", spec.dataset)
    if recipe:
        path = spec.resolve_file(recipe)
        base = read_toml(path, "[train].recipe")
    TrainSettings.from_dict(settings, prefix="train.")  # unknown keys refused, naming train.<key>
    d = deep_merge(base, {k: v for k, v in s.items() if v is not None})
    data = d.setdefault("data", {})
    data["task"] = spec.task
    data.setdefault("dataset", spec.dataset)
    if spec.task == "fixation":
        data["shards"] = str(shards)
    else:
        data["sod_root"] = str(spec.resolve_data(data_path))
    if d.get("model", {}).get("name") == "readout" and spec.task == "fixation":
        # frozen-feature readout (saliency.training.generalist): trained on this pipeline's shards; a relative
        # feature cache lives under the pipeline's output folder
        data["datasets"] = [str(shards)]
        cache = Path(data.get("feature_cache", "features"))
        data["feature_cache"] = str(cache if cache.is_absolute() else spec.out / cache)
    d.setdefault("seed", spec.seed)
    d["name"] = out_dir.name
    d["runs_dir"] = str(out_dir.parent)
    return d


def train_config_dict(ctx: StageContext) -> dict[str, Any]:
    """:func:`resolve_train_dict` for a running train stage."""
    return resolve_train_dict(ctx.spec, ctx.settings, shards=ctx.upstream.get("maps", Path(".")) / "shards",
                              out_dir=ctx.out_dir)


def run_train(ctx: StageContext) -> None:
    """Train a network with ``saliency.training.train`` into the stage directory (a run directory); a readout
    recipe (``model.name = "readout"``) as ``saliency train`` does (:func:`train_readout_run`)."""
    from saliency.training import RunConfig, train

    cfg = RunConfig.from_dict(train_config_dict(ctx))
    if cfg.model.name == "readout":
        train_readout_run(ctx, cfg)
        return
    result = train(cfg, run_dir=ctx.out_dir, show_progress=ctx.show_progress)
    ctx.summary.update(epochs=result.epochs_completed, best=result.best_value, seconds=round(result.seconds, 1))


def train_readout_run(ctx: StageContext, cfg: Any) -> None:
    """Frozen-feature readout on the maps stage's shards (:func:`saliency.training.generalist.train_generalist`).

    The stage folder gets ``model/`` (a released-model folder: what evaluate and report load), ``config.toml``,
    ``splits.json`` (the dataset's own hash split, the file every fixation run records), ``history.json``
    and ``generalisation.json`` (the test-split row from cached features, with the NSS gap closed).
    """
    import shutil

    from saliency.io import atomic_write
    from saliency.training.config import dump_config
    from saliency.training.generalist import train_generalist

    lines: list[str] = []
    table = train_generalist(cfg, ctx.out_dir, log=lines.append)
    with atomic_write(ctx.out_dir / "config.toml", "w") as fh:
        fh.write(dump_config(cfg))
    split_files = sorted((ctx.out_dir / "splits").glob("*.json"))
    if len(split_files) != 1:
        raise ConfigError(f"{ctx.out_dir / 'splits'}: a pipeline readout run trains on its one dataset; "
                          f"found {len(split_files)} split files (set no data.datasets in the recipe)")
    shutil.copyfile(split_files[0], ctx.out_dir / "splits.json")
    (ctx.out_dir / "train.log").write_text("\n".join(lines) + "\n")
    ctx.summary.update(epochs=cfg.train.epochs, model="readout",
                       **{f"{k} gap closed": round(v["gap_closed"], 4) for k, v in table.items()})


# ---------------------------------------------------------------------------------------- evaluate
def _split_stimuli(train_dir: Path, split: str) -> list[str]:
    import json

    p = train_dir / "splits.json"
    if not p.is_file():
        raise ConfigError(f"{p} not found: the train stage must record its splits")
    splits = json.loads(p.read_text())["splits"]
    if split == "all":
        return sorted(s for v in splits.values() for s in v)
    if split not in splits:
        raise ConfigError(f"[evaluate].split: {split!r} not in {sorted(splits)} (or 'all')")
    # as the training loop's final evaluation: an empty test split falls back to validation
    return list(splits[split]) or (list(splits.get("val", [])) if split == "test" else [])


def run_evaluate(ctx: StageContext) -> None:
    """Score the best checkpoint (or a readout run's model folder) on a split (default ``test``) with the requested metrics.

    Fixation task: ``saliency.metrics.evaluate`` against the shards (``metrics``, ``convention``).
    SOD: the PySODMetrics-exact measures of ``saliency.metrics.sod`` against the masks.
    Settings: ``split`` (train | val | test | all), ``limit`` (0 = all), ``metrics``, ``convention``.
    """
    import pandas as pd

    from saliency.reports.rundir import find_checkpoint
    from saliency.training import predict_maps
    from saliency.training.predict import resolve_model

    s = EvaluateSettings.from_dict(ctx.settings, prefix="evaluate.")
    split, limit = s.split, s.limit
    train_dir = ctx.upstream["train"]
    ckpt = find_checkpoint(train_dir)
    if ckpt is None:
        raise ConfigError(f"no checkpoint under {train_dir / 'checkpoints'} and no model folder "
                          f"{train_dir / 'model'}")
    stimuli = _split_stimuli(train_dir, split)
    if limit > 0:
        stimuli = stimuli[:limit]
    if not stimuli:
        raise ConfigError(f"[evaluate]: split {split!r} is empty")
    model = resolve_model(ckpt)
    info: dict[str, Any] = {"task": ctx.spec.task, "dataset": ctx.spec.dataset, "split": split,
                            "checkpoint": str(ckpt.relative_to(ctx.spec.out)), "n_images": len(stimuli),
                            "model": _model_name(train_dir)}
    if ctx.spec.task == "fixation":
        from saliency.metrics import evaluate
        from saliency.metrics.centre_bias import fit_scoring_centre
        from saliency.metrics.evaluation import sizes_from_manifest
        from saliency.shards import open_shards

        shards = open_shards(ctx.upstream["maps"] / "shards")
        paths = [shards.image_path(st) for st in stimuli]
        preds = {st: m for st, (_, m) in zip(stimuli, predict_maps(model, paths), strict=True)}
        convention = s.convention
        metrics = list(s.metrics) if s.metrics is not None else None
        # information gain is measured against the same centre-bias Gaussian as the baselines stage's
        # (saliency.metrics.centre_bias.centre_fit_stimuli: the images not scored)
        centre = fit_scoring_centre(shards.fixations.data, sizes_from_manifest(shards.manifest),
                                    list(shards.stimuli), list(stimuli))
        # the trained model and any released models: the same images, metrics, convention and IG baseline
        score = partial(evaluate, shards=shards, metrics=metrics, convention=convention, stimuli=sorted(stimuli),
                        seed=ctx.spec.seed, baseline=lambda gt: centre.density(gt.height, gt.width))
        res = score(preds)
        summary, per_image = dict(res.summary), res.per_image
        info["stimuli_scored"] = sorted(stimuli)
        if s.released:
            from saliency.evaluation.predictions import load_predictions

            released = {name: dict(score(load_predictions(name, sorted(stimuli), shards.image_path)).summary)
                        for name in s.released}
            write_json(ctx.out_dir / "released.json", released)
            info["released"] = sorted(released)
    else:
        import numpy as np

        from saliency.metrics import sod as sod_metrics
        from saliency.readers.sod import SODMasks

        root = _sod_root(train_dir, ctx)
        folder = SODMasks(root)
        images = {st: folder.image_path(st) for st in stimuli}
        masks = {st: root / "masks" / (Path(st).stem + ".png") for st in stimuli}
        # PySODMetrics' inputs: the prediction as an 8-bit grey map; masks are read (upright) by SODMasks
        preds = {st: np.rint(np.clip(prob, 0.0, 1.0) * 255.0).astype(np.uint8)
                 for st, (_, prob) in zip(stimuli, predict_maps(model, [images[st] for st in stimuli]), strict=True)}
        summary, rows = sod_metrics.evaluate_sod_folder(preds, root, list(stimuli))
        info["mask_orientation"] = summary.pop("mask_orientation")
        info["prediction_orientation"] = summary.pop("prediction_orientation")
        per_image = pd.DataFrame(rows)
        info["stimuli"] = {st: {"image_path": str(images[st]), "mask_path": str(masks[st])} for st in stimuli}
        info["sod_root"] = str(root)
    write_json(ctx.out_dir / "summary.json", summary)
    with atomic_path(ctx.out_dir / "per_image.parquet") as tmp:
        per_image.to_parquet(tmp, index=False)
    write_json(ctx.out_dir / "info.json", info)
    ctx.summary.update({k: v for k, v in summary.items() if isinstance(v, int | float)})


def _evaluate_inputs(spec: PipelineSpec, s: dict[str, Any]) -> list[Path]:
    """The released models' folders (weights, spec): a re-released model re-runs the stage."""
    from saliency.models.released import released_dir

    return [released_dir(name) for name in s.get("released") or ()]


def _model_name(train_dir: Path) -> str:
    p = train_dir / "config.toml"
    if p.is_file():
        return str(read_toml(p, "training config").get("model", {}).get("name", "model"))
    return "model"


def _sod_root(train_dir: Path, ctx: StageContext) -> Path:
    p = train_dir / "config.toml"
    root = read_toml(p, "training config").get("data", {}).get("sod_root") if p.is_file() else None
    return Path(root) if root else ctx.spec.resolve_data(ctx.spec.dataset)


# ------------------------------------------------------------------------------------------ report
def run_report(ctx: StageContext) -> None:
    """Write ``report.html`` (``saliency.reports.build_report``) from the upstream stage outputs.

    Settings: :class:`saliency.pipeline.stage_settings.ReportSettings`.
    The report reads the *final* stage directories, so it runs after every other stage.
    """
    from saliency.reports import build_report

    s = ReportSettings.from_dict(ctx.settings, prefix="report.")
    out = build_report(ctx.spec.out, ctx.out_dir / "report.html", gallery_k=s.gallery, rank_by=s.rank_by,
                       title=s.title)
    ctx.summary.update(bytes=out.stat().st_size)


def _register() -> None:
    def add(name: str, run: Any, **kw: Any) -> None:
        STAGES.add(name, Stage(name, run, check=partial(check_stage_settings, stage=name), **kw))

    add("ingest", run_ingest, inputs=_ingest_inputs,
        description="recordings → fixations.parquet + ingest_report.json")
    add("maps", run_maps, needs=("ingest",), description="fixations → Gaussian ground-truth shards")
    add("baselines", run_baselines, needs=("maps",), inputs=_train_recipe, key_extra=_baselines_key_extra,
        description="centre bias, gold standard, one human, chance")
    add("train", run_train, needs=("maps",), inputs=_train_inputs,
        description="train a network (saliency.training.train)")
    add("evaluate", run_evaluate, needs=("maps", "train"), inputs=_evaluate_inputs,
        description="score the best checkpoint on the test split")
    add("report", run_report, needs=("evaluate",), description="self-contained HTML report")


_register()


def stages_for(spec: PipelineSpec) -> list[Stage]:
    """The registered stages, with dependencies adapted to the task (SOD has no maps stage)."""
    out = []
    present = set(spec.stages)
    for name in spec.stages:
        st = STAGES.get(name)
        needs = tuple(d for d in st.needs if d in present)
        if name == "report":  # the report reads every earlier stage
            needs = tuple(n for n in spec.stages if n != "report")
        out.append(dataclasses.replace(st, needs=needs))
    return out
