"""Training configuration: frozen dataclasses, loaded from TOML, overridden with ``--set key=value``.

Every value is validated on construction; a wrong key or value raises :class:`ConfigError` naming the
dotted key (``train.epochs``) and what was expected. ``to_dict()`` gives the resolved configuration that
is written to ``<run>/config.toml``; loading it again gives an equal config.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saliency.errors import ConfigError
from saliency.io import read_toml
from saliency.names import check_name
from saliency.tasks import TASKS


@dataclass(frozen=True)
class DataConfig:
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
    """

    dataset: str = "osie"
    task: str = "fixation"
    shards: str = "outputs/osie/shards"
    sod_root: str = "../shared/datasets/sod"
    height: int = 192
    width: int = 256
    split_fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    split_salt: str = ""
    limit_train: int = 0
    limit_val: int = 0
    limit_test: int = 0
    num_workers: int = 0
    hflip: bool = True
    photometric: bool = True
    crops: bool = False
    rotations: bool = False
    vflip: bool = False
    extra_eval: tuple[str, ...] = ()
    extra_eval_limit: int = 0
    strong: bool = False
    scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _choice("data.task", self.task, TASKS)
        _positive("data.height", self.height)
        _positive("data.width", self.width)
        from saliency.datasets.splits import check_fractions

        try:
            check_fractions(self.split_fractions)
        except ConfigError as exc:
            raise ConfigError(f"data.split_fractions: {exc}") from None
        for k in ("limit_train", "limit_val", "limit_test", "num_workers", "extra_eval_limit"):
            _nonneg(f"data.{k}", getattr(self, k))
        for s in self.scales:
            if not 0.25 <= s <= 4:
                raise ConfigError(f"data.scales: factors must be in [0.25, 4], got {list(self.scales)}")


@dataclass(frozen=True)
class ModelChoice:
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
    (see :meth:`RunConfig.__post_init__`), listing the valid keys.
    """

    name: str = "default"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW or SGD; linear warm-up over ``warmup_epochs`` then cosine decay to ``min_lr_ratio``·lr.

    ``encoder_lr_mult`` scales the learning rate of parameters under ``encoder.`` (pretrained).
    ``grad_clip`` > 0 clips the global gradient norm.
    """

    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    betas: tuple[float, ...] = (0.9, 0.999)
    warmup_epochs: float = 0.5
    schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0
    encoder_lr_mult: float = 0.1

    def __post_init__(self) -> None:
        _choice("optim.name", self.name, ("adamw", "sgd"))
        _choice("optim.schedule", self.schedule, ("cosine", "constant"))
        _positive("optim.lr", self.lr)
        _nonneg("optim.weight_decay", self.weight_decay)
        _nonneg("optim.warmup_epochs", self.warmup_epochs)
        _nonneg("optim.grad_clip", self.grad_clip)
        _nonneg("optim.encoder_lr_mult", self.encoder_lr_mult)
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"optim.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"optim.betas must be two numbers in [0, 1), got {list(self.betas)}")


@dataclass(frozen=True)
class LossConfig:
    """Signed weights of the objective terms (``saliency.training.losses``); empty → task default.

    ``deep_supervision`` > 0 (SOD models with side outputs, ``decoder = "sod"``): weight of the same
    objective averaged over the side outputs.
    """

    weights: Mapping[str, float] = field(default_factory=dict)
    deep_supervision: float = 0.0

    def __post_init__(self) -> None:
        from saliency.training.losses import LOSSES

        _nonneg("loss.deep_supervision", self.deep_supervision)
        for k, v in self.weights.items():
            if k not in LOSSES:
                raise ConfigError(f"loss.weights.{k}: unknown loss term; known: {', '.join(LOSSES.names())}")
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ConfigError(f"loss.weights.{k}: expected a number, got {v!r}")


@dataclass(frozen=True)
class TrainConfig:
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
    image and its horizontal mirror. ``calibrate`` (SOD): after training, fit a logit scale a and bias b
    (sigmoid(a·z + b)) minimising the validation MAE, store them in the model's head, and record the
    validation MAE before/after in ``calibration.json``."""

    epochs: int = 5
    batch_size: int = 8
    eval_batch_size: int = 8
    max_steps_per_epoch: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: str = "auto"
    compile: bool = False
    monitor: str = "nss"
    monitor_mode: str = "max"
    patience: int = 3
    log_every: int = 10
    final_eval: bool = True
    tensorboard: bool = False
    freeze_encoder_epochs: int = 0
    encoder_trainable_fraction: float = 1.0
    tta_flip: bool = False
    calibrate: bool = False

    def __post_init__(self) -> None:
        _positive("train.epochs", self.epochs)
        _positive("train.batch_size", self.batch_size)
        _positive("train.eval_batch_size", self.eval_batch_size)
        _nonneg("train.max_steps_per_epoch", self.max_steps_per_epoch)
        _nonneg("train.freeze_encoder_epochs", self.freeze_encoder_epochs)
        if not 0 <= self.encoder_trainable_fraction <= 1:
            raise ConfigError(f"train.encoder_trainable_fraction must be in [0, 1], got "
                              f"{self.encoder_trainable_fraction}")
        _nonneg("train.patience", self.patience)
        _positive("train.log_every", self.log_every)
        _choice("train.precision", self.precision, ("auto", "fp32", "bf16"))
        _choice("train.channels_last", self.channels_last, ("auto", "on", "off"))
        _choice("train.monitor_mode", self.monitor_mode, ("max", "min"))
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"train.device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


@dataclass(frozen=True)
class RunConfig:
    """A whole training run. ``name`` names ``<runs_dir>/<name>/``."""

    name: str = "run"
    seed: int = 0
    runs_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelChoice = field(default_factory=ModelChoice)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_name(self.name, "name")
        check_model_options(self.model.name, self.model.options, self.data.task)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        return _build(cls, d, "")

    def replace(self, **overrides: Any) -> RunConfig:
        """Dotted-key overrides: ``cfg.replace(**{"train.epochs": 2})``."""
        d = self.to_dict()
        for k, v in overrides.items():
            _set_dotted(d, k, v)
        return RunConfig.from_dict(d)


TINY_OPTIONS = ("width",)
#: saliency.models.ModelConfig fields a recipe may not override (they name the zoo entry itself)
_FIXED_MODEL_FIELDS = ("name", "description")


def model_option_keys(name: str) -> list[str]:
    """The keys ``model.options`` accepts for model ``name`` (sorted)."""
    if name == "tiny":
        return list(TINY_OPTIONS)
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
    if name == "tiny":
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
    """Read a TOML recipe and apply ``key=value`` overrides (values parsed as TOML, else strings)."""
    path = Path(path)
    d = read_toml(path, "config file")
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(d, key, value)
    return RunConfig.from_dict(d)


def parse_override(item: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` → ("train.epochs", 3); the value is read as TOML, else kept as a string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def dump_config(cfg: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(cfg.to_dict())


# ----------------------------------------------------------------------------------------- helpers
def _set_dotted(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {key}: {p!r} is not a table")
        cur = nxt
    cur[parts[-1]] = value


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


def _build(cls: type, d: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(d, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table, got {d!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in d:
        if k not in names:
            raise ConfigError(f"{prefix}{k}: unknown key; known keys: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(hints[k], v, f"{prefix}{k}") for k, v in d.items()}
    return cls(**kwargs)


def _coerce(tp: Any, v: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, v, key + ".")
    if tp is bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{key}: expected true or false, got {v!r}")
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{key}: expected an integer, got {v!r}")
        return v
    if tp is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {v!r}")
        return float(v)
    if tp is str:
        if not isinstance(v, str):
            raise ConfigError(f"{key}: expected a string, got {v!r}")
        return v
    if origin is tuple:
        (inner, _) = typing.get_args(tp)
        if not isinstance(v, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {v!r}")
        return tuple(_coerce(inner, x, f"{key}[{i}]") for i, x in enumerate(v))
    if origin in (Mapping, dict) or tp is dict:
        if not isinstance(v, Mapping):
            raise ConfigError(f"{key}: expected a table, got {v!r}")
        args = typing.get_args(tp)
        inner = args[1] if args else Any
        if inner is Any:
            return dict(v)
        return {k: _coerce(inner, x, f"{key}.{k}") for k, x in v.items()}
    return v


def _choice(key: str, v: str, allowed: Sequence[str]) -> None:
    if v not in allowed:
        raise ConfigError(f"{key} must be one of {list(allowed)}, got {v!r}")


def _positive(key: str, v: float) -> None:
    if not v > 0:
        raise ConfigError(f"{key} must be > 0, got {v!r}")


def _nonneg(key: str, v: float) -> None:
    if not v >= 0:
        raise ConfigError(f"{key} must be ≥ 0, got {v!r}")
