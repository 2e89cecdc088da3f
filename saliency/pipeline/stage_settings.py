"""The settings table of every pipeline stage as a strict model (:class:`saliency.settings.Settings`).

Unknown keys and wrong types are refused with errors naming the dotted key (``report.gallery``). The
runner validates every stage's table before any stage runs (``saliency.pipeline.stages.check_stage_settings``),
so ``saliency run --dry-run`` catches a typo in the last stage; the stage functions read their settings
through the same models. ``[maps]`` is built from ``saliency.maps.MapOptions``
(``saliency.pipeline.stages.maps_settings``). Adding a setting is one line.
"""

from __future__ import annotations

from typing import Any, Literal

from saliency.settings import NonNegInt, PositiveFloat, PositiveInt, Settings, TomlList


class IngestSettings(Settings):
    """``reader``: a ``saliency.readers.READERS`` format; ``path``: dataset folder or file relative to
    data_root (default: the pipeline's dataset); ``card``: ``"auto"`` (``data/<dataset>.toml``) or a path;
    ``max_stimuli`` > 0 keeps the first n stimuli by name (quick runs). The rest as ``saliency ingest``."""

    reader: str = "nus"
    path: str | None = None
    card: str = "auto"
    on_error: Literal["raise", "skip"] = "raise"
    out_of_stimulus: Literal["drop", "clip"] = "drop"
    pixels_per_degree: PositiveFloat | None = None
    drop_first: NonNegInt = 0
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    max_stimuli: NonNegInt = 0


class ShardSettings(Settings):
    """``[maps.shards]``: options of ``saliency.shards.build_shards``."""

    dtype: str = "float32"
    fmt: str = "npz"
    shard_size: PositiveInt = 256
    workers: PositiveInt = 1


class BaselinesSettings(Settings):
    """``names`` (default: every baseline), ``metrics``, ``convention``, ``sigma_px``, ``seed`` (default:
    the pipeline's), ``split``/``limit`` (default: the evaluate stage's; ``"all"`` scores every image)."""

    names: TomlList[str] | None = None
    metrics: TomlList[str] | None = None
    convention: str | None = None
    sigma_px: PositiveFloat | None = None
    seed: int | None = None
    split: str | None = None
    limit: NonNegInt | None = None


class TrainSettings(Settings):
    """``recipe``: a training TOML (relative to the pipeline file); ``path``: the SOD folder (relative to
    data_root); the recipe's own tables (``data``, ``model``, ...) override the recipe file. The resolved
    recipe is validated as a :class:`saliency.training.RunConfig`."""

    recipe: str | None = None
    path: str | None = None
    name: str | None = None
    seed: int | None = None
    data: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    optim: dict[str, Any] | None = None
    loss: dict[str, Any] | None = None
    train: dict[str, Any] | None = None


class EvaluateSettings(Settings):
    """``split`` (train | val | test | all), ``limit`` (0 = all); fixation task only: ``metrics``,
    ``convention``, ``released`` (released models, e.g. ``["generalist"]``, scored on the same images with
    the same baseline beside the trained model)."""

    split: Literal["train", "val", "test", "all"] = "test"
    limit: NonNegInt = 0
    metrics: TomlList[str] | None = None
    convention: str = "pysaliency"
    released: TomlList[str] = ()


class ReportSettings(Settings):
    """``gallery``: images per best/worst row; ``rank_by``: the metric ranking them; ``title``."""

    gallery: NonNegInt = 3
    rank_by: str | None = None
    title: str | None = None
