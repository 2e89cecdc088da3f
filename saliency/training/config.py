"""Training configuration: strict pydantic models (:class:`saliency.settings.Settings`), loaded from TOML,
overridden with ``--set key=value``.

Every value is validated on construction; a wrong key or value raises :class:`ConfigError` naming the
dotted key (``train.epochs``) and what was expected. ``to_dict()`` gives the resolved configuration that
is written to ``<run>/config.toml``; loading it again gives an equal config. Adding a setting is one
line in the table's class (``name: type = default``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from saliency.errors import ConfigError
from saliency.io import read_toml
from saliency.names import check_name
from saliency.settings import (
    NonNegFloat,
    NonNegInt,
    PositiveFloat,
    PositiveInt,
    Settings,
    TomlList,
    parse_override,
    set_dotted,
    validate,
)
from saliency.tasks import Task

__all__ = [
    "TINY_OPTIONS", "DataConfig", "LossConfig", "ModelChoice", "OptimConfig", "RunConfig", "TrainConfig",
    "check_model_options", "dump_config", "load_config", "model_option_keys", "parse_override",
]



class DataConfig(Settings):
    """What to train on. ``task`` "fixation" reads shards (``shards``), "sod" an image/mask folder.

    height/width: the letterbox canvas (px). Split fractions are (train, val, test) by stimulus hash.
    ``limit_*`` > 0 keeps only the first n stimuli of a split (quick runs). ``extra_eval`` lists other
    shard directories scored at the end with the final model (e.g. MIT1003 for cross-dataset numbers);
    ``extra_eval_limit`` > 0 scores only the first n stimuli of each such set in split-hash order
    (``saliency.datasets.splits.stimulus_unit``: a fixed, name-independent pseudo-random sample).
    ``strong``: the stronger, mask-consistent SOD augmentation of ``AugmentConfig.strong`` (affine
    scale/shift/rotation, blur, noise, gamma). ``scales``: multi-scale training, each batch resized by a
    factor drawn from this list (seeded by step; sizes rounded to multiples of 32), e.g. [0.75, 1.0, 1.25];
    empty = the canvas only. Validation and testing always use the canvas.
    Readout runs (``model.name = "readout"``): ``datasets`` are the training shard sets (a name →
    ``outputs/<name>/shards``, or a path), each with its own hash split; ``dataset_weights`` their sampling
    weights (default 1 each, i.e. ∝ training images); ``holdout`` shard sets never trained on, scored on all
    images with the unseen-dataset parameters; ``feature_cache`` the folder of cached frozen features.
    """

    dataset: str = "osie"
    task: Task = "fixation"
    shards: str = "outputs/osie/shards"
    sod_root: str = "../shared/datasets/sod"
    height: PositiveInt = 192
    width: PositiveInt = 256
    split_fractions: TomlList[float] = (0.8, 0.1, 0.1)
    split_salt: str = ""
    limit_train: NonNegInt = 0
    limit_val: NonNegInt = 0
    limit_test: NonNegInt = 0
    num_workers: NonNegInt = 0
    hflip: bool = True
    photometric: bool = True
    crops: bool = False
    rotations: bool = False
    vflip: bool = False
    extra_eval: TomlList[str] = ()
    extra_eval_limit: NonNegInt = 0
    strong: bool = False
    scales: TomlList[Annotated[float, Field(ge=0.25, le=4)]] = ()
    # readout runs (model.name = "readout", saliency.training.generalist): several shard sets at once
    datasets: TomlList[str] = ()
    dataset_weights: dict[str, float] = Field(default_factory=dict)
    holdout: TomlList[str] = ()
    feature_cache: str = "outputs/features"

    @field_validator("split_fractions")
    @classmethod
    def _fractions(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        from saliency.datasets.splits import check_fractions

        check_fractions(v)  # ConfigError naming data.split_fractions
        return v


class ModelChoice(Settings):
    """The network of a run: which zoo model, with which overrides (the ``[model]`` table of a recipe).

    Not to be confused with :class:`saliency.models.ModelConfig`, the full network configuration it resolves to.

    ``name``: a zoo name of ``saliency.models.MODELS``, ``"default"`` (the task's default model) or
    ``"tiny"`` (a 3-layer test net). ``options``: overrides of fields of the zoo entry's
    :class:`saliency.models.ModelConfig`, passed to ``build_model(name, **options)``, e.g.::

        [model]
        name = "effnet_lite0"
        options = {blocks = ["none", "none", "cbam", "cbam", "cbam"], bottleneck = "mhsa", n_priors = 0}

    Valid keys are that dataclass' fields except ``name``/``description`` (``encoder``, ``encoder_width``,
    ``pretrained``, ``weights_path``, ``blocks`` — one block name per encoder stage —, ``bottleneck``,
    ``decoder_channels``, ``fusion``, ``n_priors``, ``stn``, ``head_channels``, ``task``); for ``tiny``
    only ``width``. Unknown keys or invalid values raise :class:`ConfigError` when the run config is built
    (:func:`check_model_options`), listing the valid keys.
    """

    name: str = "default"
    options: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(Settings):
    """AdamW or SGD; linear warm-up over ``warmup_epochs`` then cosine decay to ``min_lr_ratio``·lr.

    ``encoder_lr_mult`` scales the learning rate of parameters under ``encoder.`` (pretrained).
    ``grad_clip`` > 0 clips the global gradient norm.
    """

    name: Literal["adamw", "sgd"] = "adamw"
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegFloat = 1e-4
    momentum: float = 0.9
    betas: Annotated[TomlList[Annotated[float, Field(ge=0, lt=1)]], Field(min_length=2, max_length=2)] = (0.9, 0.999)
    warmup_epochs: NonNegFloat = 0.5
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: Annotated[float, Field(ge=0, le=1)] = 0.01
    grad_clip: NonNegFloat = 1.0
    encoder_lr_mult: NonNegFloat = 0.1


class LossConfig(Settings):
    """Signed weights of the objective terms (``saliency.training.losses``); empty → task default.

    ``deep_supervision`` > 0 (SOD models with side outputs, ``decoder = "sod"``): weight of the same
    objective averaged over the side outputs.
    """

    weights: dict[str, float] = Field(default_factory=dict)
    deep_supervision: NonNegFloat = 0.0

    @field_validator("weights")
    @classmethod
    def _known_terms(cls, v: dict[str, float]) -> dict[str, float]:
        from saliency.training.losses import LOSSES

        for k in v:
            if k not in LOSSES:
                raise ConfigError(f"loss.weights.{k}: unknown loss term; known: {', '.join(LOSSES.names())}")
        return v


class TrainConfig(Settings):
    """The loop. device "auto" → cuda if available else cpu; precision "auto" → bf16 on GPU, fp32 on
    CPU; channels_last "auto" → on GPU. ``monitor`` is the validation metric for best checkpoint and
    early stopping (``patience`` epochs without improvement; 0 = never stop early).
    ``max_steps_per_epoch`` > 0 truncates epochs (quick runs).
    ``freeze_encoder_epochs``: the first n epochs train everything but the (pretrained) encoder, whose
    weights and BatchNorm statistics stay fixed (warm-up of a fresh decoder; ~3× cheaper steps on CPU).
    ``encoder_trainable_fraction``: after the warm-up only the deepest fraction of the encoder's parameter
    tensors is fine-tuned (the shallow, high-resolution layers stay frozen: cheaper steps, less
    over-fitting of generic low-level filters on little data); 1.0 = the whole encoder.
    ``tta_flip`` (SOD): the final evaluation and ``saliency predict`` average the probabilities of the
    image and its horizontal mirror; ``tta_scales`` (SOD) adds the canvas resized by each factor (rounded to
    32 px; ``saliency.training.inference.tta_views``) to that average. ``calibrate`` (SOD): after training,
    fit a logit scale a and bias b (sigmoid(a·z + b)) on the validation split with that TTA
    (``saliency.training.calibration``: MAE + 1 − S), store them in the model's head, and record the
    validation MAE and S before/after in ``calibration.json``."""

    epochs: PositiveInt = 5
    batch_size: PositiveInt = 8
    eval_batch_size: PositiveInt = 8
    max_steps_per_epoch: NonNegInt = 0
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    channels_last: Literal["auto", "on", "off"] = "auto"
    compile: bool = False
    monitor: str = "nss"
    monitor_mode: Literal["max", "min"] = "max"
    patience: NonNegInt = 3
    log_every: PositiveInt = 10
    final_eval: bool = True
    tensorboard: bool = False
    freeze_encoder_epochs: NonNegInt = 0
    encoder_trainable_fraction: Annotated[float, Field(ge=0, le=1)] = 1.0
    tta_flip: bool = False
    tta_scales: TomlList[Annotated[float, Field(ge=0.25, le=4)]] = (1.0,)
    calibrate: bool = False


class RunConfig(Settings):
    """A whole training run. ``name`` names ``<runs_dir>/<name>/``."""

    name: str = "run"  # a folder name (saliency.names.check_name)
    seed: int = 0
    runs_dir: str = "runs"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelChoice = Field(default_factory=ModelChoice)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _name_and_model_options(self) -> RunConfig:
        check_name(self.name, "name")
        check_model_options(self.model.name, self.model.options, self.data.task)
        return self

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, prefix: str = "", where: str = "") -> RunConfig:
        return validate(cls, d, prefix=prefix, where=where)

    def replace(self, **overrides: Any) -> RunConfig:
        """Dotted-key overrides: ``cfg.replace(**{"train.epochs": 2})``."""
        d = self.to_dict()
        for k, v in overrides.items():
            set_dotted(d, k, v)
        return RunConfig.from_dict(d)


TINY_OPTIONS = ("width",)
READOUT_OPTIONS = ("depth_strides", "encoders", "hflip", "hidden", "scales", "seeds")
#: saliency.models.ModelConfig fields a recipe may not override (they name the zoo entry itself)
_FIXED_MODEL_FIELDS = ("name", "description")


def model_option_keys(name: str) -> list[str]:
    """The keys ``model.options`` accepts for model ``name`` (sorted)."""
    if name == "tiny":
        return list(TINY_OPTIONS)
    if name == "readout":
        return list(READOUT_OPTIONS)
    from saliency.models import ModelConfig as NetConfig

    return sorted(f.name for f in dataclasses.fields(NetConfig) if f.name not in _FIXED_MODEL_FIELDS)


def check_model_options(name: str, options: Mapping[str, Any], task: str = "fixation") -> None:
    """Raise :class:`ConfigError` unless ``model.name`` exists and ``model.options`` are valid overrides of
    its zoo configuration (keys and values; nothing is built, no weights are read)."""
    valid = model_option_keys(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"model.options: unknown key(s) {unknown} for model {name!r}; valid keys: "
                          f"{', '.join(valid)}")
    if name in ("tiny", "readout"):
        return
    from saliency import models
    from saliency.errors import UnknownNameError

    zoo_name = name
    if name == "default":
        zoo_name = models.DEFAULT_FIXATION_MODEL if task == "fixation" else models.DEFAULT_SOD_MODEL
    try:
        models.get_config(zoo_name, **dict(options))
    except UnknownNameError as exc:
        raise ConfigError(f"model.name: {exc}") from None
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"model.options: {exc}") from None


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a TOML recipe and apply ``key=value`` overrides (:func:`saliency.settings.parse_override`)."""
    path = Path(path)
    d = read_toml(path, "config file")
    for item in overrides:
        set_dotted(d, *parse_override(item))
    return RunConfig.from_dict(d, where=str(path))


def dump_config(cfg: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(cfg.to_dict())
