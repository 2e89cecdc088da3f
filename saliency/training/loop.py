"""The training loop: seeded, resumable to the bit, single process or DDP (torchrun).

One epoch = one pass over the train split (or ``max_steps_per_epoch`` batches). After each epoch: the
validation metrics, a JSONL/CSV record, ``checkpoints/last.pt`` (and ``best.pt`` when the monitored
metric improved), all written atomically by rank 0. ``resume=True`` restores model, optimizer,
scheduler, scaler, RNG states, history and early-stopping state from ``last.pt`` and continues with the
next epoch; data order and augmentation depend only on (seed, epoch), so a resumed run ends with
weights bit-identical to an uninterrupted one (CPU; deterministic kernels).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from saliency.errors import ConfigError
from saliency.io import atomic_write, write_json
from saliency.training.checkpoint import (
    load_checkpoint,
    require_fields,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from saliency.training.config import RunConfig, dump_config
from saliency.training.data import build_run_data, make_loader, scale_batch
from saliency.training.distributed import DistInfo, barrier, broadcast_object, init_distributed
from saliency.training.evaluation import evaluate_fixation, evaluate_sod, validate
from saliency.training.losses import DEFAULT_FIXATION_WEIGHTS, DEFAULT_SOD_WEIGHTS, WeightedObjective
from saliency.training.modeling import build_network, model_spec, unwrap


@dataclass
class RunResult:
    """What :func:`train` leaves behind (paths inside ``run_dir``) and its headline numbers."""

    run_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path
    epochs_completed: int
    best_value: float | None
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    model: nn.Module | None = field(default=None, repr=False)  # the trained network (last epoch)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 (global RNG libraries may draw from)
    torch.manual_seed(seed)


def resolve_device(cfg: RunConfig, info: DistInfo) -> torch.device:
    want = cfg.train.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("train.device: CUDA requested but no GPU is available")
        if want == "cuda":
            want = f"cuda:{info.local_rank}"
        torch.cuda.set_device(torch.device(want))
    return torch.device(want)


def amp_settings(cfg: RunConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, channels_last) from the config and the device."""
    prec = cfg.train.precision
    if prec == "auto":
        prec = "bf16" if device.type == "cuda" else "fp32"
    dtype = torch.bfloat16 if prec == "bf16" else None
    cl = cfg.train.channels_last == "on" or (cfg.train.channels_last == "auto" and device.type == "cuda")
    return dtype, cl


def param_groups(model: nn.Module, cfg: RunConfig) -> list[dict[str, Any]]:
    """Four groups: (encoder | rest) × (decayed weights | biases and norms, no weight decay)."""
    o = cfg.optim
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        enc = name.startswith("encoder.")
        decay = p.ndim > 1
        groups.setdefault((enc, decay), []).append(p)
    out = []
    for (enc, decay), ps in sorted(groups.items()):
        out.append({"params": ps, "lr": o.lr * (o.encoder_lr_mult if enc else 1.0),
                    "weight_decay": o.weight_decay if decay else 0.0})
    return out


def make_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    groups = param_groups(model, cfg)
    if o.name == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
    return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, nesterov=True)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str, min_ratio: float) -> float:
    """Linear warm-up from 1/warmup to 1, then cosine to ``min_ratio`` at ``total_steps`` (or constant)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    t = min(max(t, 0.0), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def _improved(value: float, best: float | None, mode: str) -> bool:
    if best is None or not math.isfinite(best):
        return math.isfinite(value)
    return value > best if mode == "max" else value < best


def _write_csv(path: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for rec in history:
        keys += [k for k in rec if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for rec in history:
        w.writerow(rec)
    with atomic_write(path, "w") as fh:
        fh.write(buf.getvalue())


def _write_jsonl(path: Path, history: list[dict[str, Any]]) -> None:
    with atomic_write(path, "w") as fh:
        for rec in history:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")


def resolve_config(cfg: RunConfig) -> RunConfig:
    """Fill task-dependent defaults (the loss weights) so ``config.toml`` states everything used."""
    if not cfg.loss.weights:
        default = DEFAULT_FIXATION_WEIGHTS if cfg.data.task == "fixation" else DEFAULT_SOD_WEIGHTS
        cfg = cfg.replace(**{"loss.weights": dict(default)})
    return cfg


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, objective: WeightedObjective,
               x: torch.Tensor, targets: dict[str, torch.Tensor], *, amp_dtype: torch.dtype | None = None,
               grad_clip: float = 0.0, scaler: torch.amp.GradScaler | None = None,
               clip_module: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimisation step: forward (under bf16 autocast when ``amp_dtype``), the objective on the
    float32 prediction (plus the model's deep-supervision ``aux_outputs``, if any), backward, global-norm clipping of ``clip_module``'s gradients (default ``model``;
    the unwrapped module under DDP) when ``grad_clip`` > 0, optimizer step. Returns (loss, terms)."""
    with torch.autocast(device_type=x.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        pred = model(x)
    aux = getattr(clip_module or model, "aux_outputs", None) or ()
    loss, terms = objective(pred.float(), targets, aux=aux) if aux else objective(pred.float(), targets)
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_((clip_module or model).parameters(), grad_clip)
        optimizer.step()
        return loss, terms
    scaler.scale(loss).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_((clip_module or model).parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return loss, terms


def warn_thread_change(ck: dict[str, Any], path: Path) -> None:
    """Exact (bit-identical) resume holds only with the torch thread count the run was saved with: CPU
    kernels split reductions by thread, so sums round differently. Warn when it changed."""
    saved, now = ck.get("torch_threads"), torch.get_num_threads()
    if saved is not None and int(saved) != now:
        warnings.warn(f"{path}: saved with {saved} torch threads, resuming with {now}; the resumed run is not "
                      f"bit-identical to an uninterrupted one (set OMP_NUM_THREADS={saved} for that)",
                      ResumeThreadsWarning, stacklevel=2)


class ResumeThreadsWarning(UserWarning):
    """Resuming with another thread count than the checkpoint was saved with (not bit-identical)."""


def train(config: RunConfig, *, run_dir: str | Path | None = None, resume: bool = False,
          source: Any = None, show_progress: bool = False,
          on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> RunResult:
    """Train ``config``; leave ``run_dir`` (default ``<runs_dir>/<name>``) as docs/training.md describes:
    ``config.toml``, ``splits.json``, ``checkpoints/{last,best}.pt``, ``metrics.{jsonl,csv}``,
    ``eval/<dataset>/`` (:class:`Trainer`).

    source: overrides the data source (an object with ``stimuli`` and ``load``; tests).
    on_epoch_end(epoch, record): called on every rank after each epoch's checkpoint (tests use it to
    interrupt a run).
    """
    return Trainer(config, run_dir=run_dir, resume=resume, source=source).fit(
        show_progress=show_progress, on_epoch_end=on_epoch_end)


class Trainer:
    """One training run: set up (config, device, data, model, optimizer, schedule; a fresh run directory
    or the state of ``last.pt``), then :meth:`fit` runs the epochs (:meth:`train_epoch`, then
    :meth:`end_epoch`: validation, early stopping, checkpoints, records) and the final evaluation.

    Construction does the set-up in a fixed order (seeding before data and model are built), so a run and
    its resumption consume the random streams identically.
    """

    def __init__(self, config: RunConfig, *, run_dir: str | Path | None = None, resume: bool = False,
                 source: Any = None) -> None:
        self.t_start = time.perf_counter()
        cfg = self.cfg = resolve_config(config)
        self.run_dir = Path(run_dir) if run_dir is not None else Path(cfg.runs_dir) / cfg.name
        ckpt_dir = self.run_dir / "checkpoints"
        self.last_path, self.best_path = ckpt_dir / "last.pt", ckpt_dir / "best.pt"
        device_kind = "cuda" if (cfg.train.device.startswith("cuda") or
                                 (cfg.train.device == "auto" and torch.cuda.is_available())) else "cpu"
        self.info = init_distributed(device_kind)
        self.device = resolve_device(cfg, self.info)
        self.amp_dtype, self.channels_last = amp_settings(cfg, self.device)
        self.task = cfg.data.task
        if resume:
            self._check_resumable()

        seed_everything(cfg.seed)
        if self.device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.data = build_run_data(cfg, source)
        model = build_network(cfg.model.name, cfg.model.options, self.task).to(self.device)
        if getattr(model, "task", self.task) != self.task:
            raise ConfigError(f"model {cfg.model.name!r} is a {model.task!r} model but data.task is {self.task!r}")
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.optimizer = make_optimizer(model, cfg)
        self._make_schedule()
        self.objective = WeightedObjective(cfg.loss.weights, self.task, cfg.loss.deep_supervision)

        self.start_epoch, self.step, self.best, self.bad_epochs = 0, 0, None, 0
        self.history: list[dict[str, Any]] = []
        if resume:
            self._restore()
        elif self.info.is_main:
            self._start_run_dir()
        barrier(self.info)

        self.train_model: nn.Module = model
        if self.info.enabled:
            self.train_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if cfg.train.compile:
            self.train_model = torch.compile(self.train_model)
        self.tb = _tensorboard(self.run_dir) if (cfg.train.tensorboard and self.info.is_main) else None
        self.spec = model_spec(unwrap(model), cfg.model.name, cfg.model.options)

    # ------------------------------------------------------------------------------------- set-up
    def _check_resumable(self) -> None:
        """``--resume`` needs ``last.pt`` and the same configuration as the saved ``config.toml``."""
        from saliency.io import read_toml

        if not self.last_path.is_file():
            raise ConfigError(f"--resume: {self.last_path} does not exist")
        saved = RunConfig.from_dict(read_toml(self.run_dir / "config.toml", "saved run config"))
        if saved.to_dict() != self.cfg.to_dict():
            now, then = _flatten(self.cfg.to_dict()), _flatten(saved.to_dict())
            diff = sorted(k for k in now.keys() | then.keys() if now.get(k) != then.get(k))
            raise ConfigError(f"--resume: config differs from {self.run_dir / 'config.toml'} at {', '.join(diff)}")

    def _make_schedule(self) -> None:
        """Steps per epoch (from a probe loader), warm-up + cosine/constant schedule, the AMP scaler."""
        cfg, data = self.cfg, self.data
        probe = make_loader(data.train, batch_size=cfg.train.batch_size, shuffle=True, seed=cfg.seed, epoch=0,
                            num_workers=0, dist_info=self.info, drop_last=len(data.train) > cfg.train.batch_size)
        self.steps_per_epoch = len(probe)
        if cfg.train.max_steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, cfg.train.max_steps_per_epoch)
        total_steps = self.steps_per_epoch * cfg.train.epochs
        warmup = round(cfg.optim.warmup_epochs * self.steps_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, total_steps, warmup, cfg.optim.schedule, cfg.optim.min_lr_ratio))
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=False)  # bf16 needs no loss scaling

    def _restore(self) -> None:
        ck = load_checkpoint(self.last_path, map_location=self.device)
        require_fields(ck, self.last_path, ("model", "optimizer", "scheduler", "scaler", "epoch", "step",
                                            "bad_epochs", "best", "history", "rng"))
        unwrap(self.model).load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        if ck["scaler"]:
            self.scaler.load_state_dict(ck["scaler"])
        self.start_epoch, self.step, self.bad_epochs = int(ck["epoch"]), int(ck["step"]), int(ck["bad_epochs"])
        self.best = ck["best"]
        self.history = list(ck["history"])
        set_rng_state(ck["rng"])
        warn_thread_change(ck, self.last_path)

    def _start_run_dir(self) -> None:
        from saliency.datasets import write_splits

        cfg = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.run_dir / "config.toml", "w") as fh:
            fh.write(dump_config(cfg))
        write_splits(self.run_dir / "splits.json", self.data.splits, fractions=cfg.data.split_fractions,
                     salt=cfg.data.split_salt, dataset=cfg.data.dataset)

    # ------------------------------------------------------------------------------------- epochs
    def fit(self, *, show_progress: bool = False,
            on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> RunResult:
        """Run the remaining epochs (stopping early after ``patience`` epochs without improvement), then
        the final evaluation of the best checkpoint."""
        cfg, info = self.cfg, self.info
        stopped_early = False
        with _progress(show_progress and info.is_main) as prog:
            for epoch in range(self.start_epoch, cfg.train.epochs):
                task_id = prog.add_task(f"epoch {epoch + 1}/{cfg.train.epochs}", total=self.steps_per_epoch,
                                        rate="") if prog else None
                record = self.train_epoch(epoch, prog, task_id)
                record = self.end_epoch(epoch, record)
                if prog is not None:
                    prog.update(task_id, rate=_summary_text(record, cfg.train.monitor))
                barrier(info)
                if on_epoch_end is not None:
                    on_epoch_end(epoch + 1, record)
                if cfg.train.patience and self.bad_epochs >= cfg.train.patience:
                    stopped_early = True
                    break

        chosen = self.best_path if self.best_path.is_file() else self.last_path
        if cfg.train.calibrate and self.task == "sod" and info.is_main:
            calibrate_run(cfg, self.data, chosen, self.run_dir, self.device)
        evaluation: dict[str, dict[str, Any]] = {}
        if cfg.train.final_eval and info.is_main:
            evaluation = final_evaluation(cfg, self.data, chosen, self.run_dir, self.device)
        barrier(info)
        if self.tb is not None:
            self.tb.close()
        return RunResult(run_dir=self.run_dir, last_checkpoint=self.last_path, best_checkpoint=self.best_path,
                         epochs_completed=len(self.history) if info.is_main else 0, best_value=self.best,
                         stopped_early=stopped_early, history=self.history, evaluation=evaluation,
                         seconds=time.perf_counter() - self.t_start, model=unwrap(self.model))

    def train_epoch(self, epoch: int, prog: Any = None, task_id: Any = None) -> dict[str, Any]:
        """One pass over the train split (at most ``steps_per_epoch`` batches); the epoch's record."""
        cfg, info, device = self.cfg, self.info, self.device
        loader = make_loader(self.data.train, batch_size=cfg.train.batch_size, shuffle=True, seed=cfg.seed,
                             epoch=epoch, num_workers=cfg.data.num_workers, dist_info=info,
                             drop_last=len(self.data.train) > cfg.train.batch_size)
        self.train_model.train()
        frozen = set_encoder_frozen(unwrap(self.model), epoch < cfg.train.freeze_encoder_epochs,
                                    cfg.train.encoder_trainable_fraction)
        t0 = time.perf_counter()
        seen, loss_sum, term_sums = 0, 0.0, {}
        for i, batch in enumerate(loader):
            if i >= self.steps_per_epoch:
                break
            if self.task == "sod":
                batch = scale_batch(batch, cfg.data.scales, cfg.seed, self.step)
            x = batch["image"].to(device, non_blocking=True)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            tensors = {k: v.to(device) for k, v in batch.items() if k in ("density", "fixation_map", "mask")}
            loss, terms = train_step(self.train_model, self.optimizer, self.objective, x, tensors,
                                     amp_dtype=self.amp_dtype, grad_clip=cfg.optim.grad_clip, scaler=self.scaler,
                                     clip_module=self.model)
            self.scheduler.step()
            self.step += 1
            seen += x.shape[0]
            loss_sum += float(loss.detach()) * x.shape[0]
            for k, v in terms.items():
                term_sums[k] = term_sums.get(k, 0.0) + v * x.shape[0]
            if prog is not None:
                dt = time.perf_counter() - t0
                prog.update(task_id, advance=1, rate=f"{seen * info.world_size / dt:,.1f} img/s loss {loss_sum / seen:.4f}")
            if self.tb is not None and self.step % cfg.train.log_every == 0:
                self.tb.add_scalar("train/loss", float(loss.detach()), self.step)
        train_s = time.perf_counter() - t0
        return {
            "epoch": epoch + 1, "step": self.step, "lr": self.scheduler.get_last_lr()[-1],
            "train_loss": loss_sum / max(seen, 1),
            **{f"train_{k}": v / max(seen, 1) for k, v in sorted(term_sums.items())},
            "images_per_s": seen * info.world_size / train_s if train_s > 0 else float("nan"),
            "epoch_s": train_s, "encoder_frozen": frozen,
        }

    def end_epoch(self, epoch: int, record: dict[str, Any]) -> dict[str, Any]:
        """Rank 0: validate, update best/early-stopping state, write checkpoints and records; then every
        rank gets rank 0's (record, bad_epochs, best)."""
        if self.info.is_main:
            self._validate_and_save(epoch, record)
        record, self.bad_epochs, self.best = broadcast_object(self.info, (record, self.bad_epochs, self.best))
        return record

    def _validate_and_save(self, epoch: int, record: dict[str, Any]) -> None:
        cfg = self.cfg
        val_loader = make_loader(self.data.val, batch_size=cfg.train.eval_batch_size, shuffle=False,
                                 seed=cfg.seed, epoch=0, num_workers=cfg.data.num_workers, dist_info=DistInfo())
        val = validate(unwrap(self.model), val_loader, self.device, self.task, self.amp_dtype, self.channels_last)
        record.update({f"val_{k}": v for k, v in val.items()})
        key = f"val_{cfg.train.monitor}"
        if key not in record:
            raise ConfigError(f"train.monitor: {cfg.train.monitor!r} is not a validation metric; "
                              f"known: {sorted(k[4:] for k in record if k.startswith('val_'))}")
        value = float(record[key])
        improved = _improved(value, self.best, cfg.train.monitor_mode)
        if improved:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        record["best"] = self.best
        self.history.append(record)
        state = {
            "model": unwrap(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "rng": rng_state(), "epoch": epoch + 1, "step": self.step, "best": self.best,
            "bad_epochs": self.bad_epochs, "history": self.history, "config": dump_config(cfg),
            "model_spec": self.spec, "canvas": [cfg.data.height, cfg.data.width], "task": self.task,
            "torch_threads": torch.get_num_threads(),
            "tta_flip": bool(cfg.train.tta_flip and self.task == "sod"),
            "tta_scales": [float(s) for s in cfg.train.tta_scales] if self.task == "sod" else [1.0],
        }
        save_checkpoint(self.last_path, state)
        if improved:
            save_checkpoint(self.best_path, state)
        _write_jsonl(self.run_dir / "metrics.jsonl", self.history)
        _write_csv(self.run_dir / "metrics.csv", self.history)
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("epoch", "step"):
                    self.tb.add_scalar(k, v, epoch + 1)


def set_encoder_frozen(model: nn.Module, frozen: bool, trainable_fraction: float = 1.0) -> bool:
    """Freeze the model's ``encoder`` (no gradients; BatchNorm layers in eval mode: running statistics
    fixed), or unfreeze its deepest ``trainable_fraction`` of parameter tensors (registration order is
    depth order in every encoder here: stem first; 1.0 = all). Call after ``model.train()``.
    Returns ``frozen`` (False for a model without encoder)."""
    enc = getattr(model, "encoder", None)
    if enc is None:
        return False
    params = list(enc.parameters())
    n_train = 0 if frozen else math.ceil(trainable_fraction * len(params))
    for i, p in enumerate(params):
        p.requires_grad_(i >= len(params) - n_train)
    for m in enc.modules():
        own = list(m.parameters(recurse=False))
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and own and not any(p.requires_grad for p in own):
            m.eval()
    return frozen


def calibrate_run(cfg: RunConfig, data: Any, checkpoint: Path, run_dir: Path, device: torch.device) -> None:
    """Fit the SOD logit calibration on the validation split (``saliency.training.calibration``), store
    it in ``checkpoint`` (the one the final evaluation scores), write ``calibration.json``."""
    from saliency.training.calibration import apply_calibration, fit_calibration
    from saliency.training.predict import load_model

    model = load_model(checkpoint, device=device)
    cal = fit_calibration(model, data.source, data.splits["val"] or data.splits["train"],
                          (cfg.data.height, cfg.data.width), device, tta_flip=model.tta_flip,
                          tta_scales=model.tta_scales)
    apply_calibration(model, cal)
    ck = load_checkpoint(checkpoint, map_location="cpu")
    ck["model"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_checkpoint(checkpoint, ck)
    write_json(run_dir / "calibration.json", {**cal.to_dict(), "checkpoint": checkpoint.name})


def final_evaluation(cfg: RunConfig, data: Any, checkpoint: Path, run_dir: Path,
                     device: torch.device) -> dict[str, dict[str, Any]]:
    """Score the chosen checkpoint on the test split (and ``data.extra_eval`` shard sets, at most
    ``data.extra_eval_limit`` stimuli each) at the stimuli's original resolution; write
    ``eval/<dataset>/{summary.json, per_image.parquet}``."""
    from saliency.training.predict import load_model

    model = load_model(checkpoint, device=device)
    canvas = (cfg.data.height, cfg.data.width)
    out: dict[str, dict[str, Any]] = {}
    own_path = None
    if cfg.data.task == "fixation" and hasattr(data.source, "manifest"):  # a shard set read from disk
        from saliency.training.data import resolve_path

        own_path = str(resolve_path(cfg.data.shards))
    jobs: list[tuple[str, Any, list[str], str | None]] = [
        (cfg.data.dataset, data.source, data.splits["test"] or data.splits["val"], own_path)]
    for extra in cfg.data.extra_eval:
        from saliency.datasets.fixation import open_source
        from saliency.datasets.splits import stimulus_unit

        src = open_source(Path(extra))
        name = (getattr(src, "meta", None) or {}).get("dataset", Path(extra).parent.name)
        while name in {j[0] for j in jobs}:  # two sets of one dataset: keep both summaries
            name = f"{name}+"
        stimuli = list(src.stimuli)
        if cfg.data.extra_eval_limit:
            stimuli = sorted(sorted(stimuli, key=stimulus_unit)[:cfg.data.extra_eval_limit])
        jobs.append((name, src, stimuli, str(extra)))
    for name, src, stimuli, path in jobs:
        if cfg.data.task == "fixation":
            per, summary = evaluate_fixation(model, src, stimuli, canvas, device)
        else:
            per, summary = evaluate_sod(model, src, stimuli, canvas, device)
        summary = {**summary, "checkpoint": checkpoint.name,
                   "split": "test" if name == cfg.data.dataset else "all" if path is None or
                   not cfg.data.extra_eval_limit else f"first {cfg.data.extra_eval_limit} in hash order"}
        if path is not None:
            summary["shards"] = path
        d = run_dir / "eval" / name
        write_json(d / "summary.json", summary)
        from saliency.io import atomic_path

        with atomic_path(d / "per_image.parquet") as tmp:
            per.to_parquet(tmp, index=False)
        out[name] = summary
    return out


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _summary_text(record: dict[str, Any], monitor: str) -> str:
    v = record.get(f"val_{monitor}")
    return f"{record['images_per_s']:,.1f} img/s · val {monitor} {v:.4f}" if v is not None else ""


def _progress(enabled: bool) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    from saliency.progress import progress

    return progress()


def _tensorboard(run_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))
