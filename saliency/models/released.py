"""Released models: trained networks shipped inside the package, loaded by name.

Minimal registry (the SOD task needed one before the general one landed; same layout and names):
``saliency/released/<name>/`` (package data) holds

* ``model.safetensors`` — every tensor of the network's state dict in float16 (loaded back as float32);
* ``spec.json`` — ``kind`` (``"saliency_net"``: a zoo :class:`~saliency.models.SaliencyNet` rebuilt from
  ``config``, its ``ModelConfig`` dict), ``task`` (fixation: log-density; sod: logits), ``canvas``
  [height, width] (px, the letterbox canvas it was trained at), ``tta_flip`` (SOD flip TTA at prediction),
  and documentation: ``description``, ``training``, ``scores``, ``licence``;
* ``card.md`` — the model card.

``load_released("sod")`` → the eval-mode network with ``model.canvas``, ``model.task``, ``model.tta_flip``
and ``model.released_name`` set, ready for ``saliency.training.predict_maps``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from saliency.errors import ChecksumError, ConfigError, SchemaError, UnknownNameError

WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "spec.json"
CARD_FILE = "card.md"
KINDS = ("saliency_net",)


def released_root() -> Path:
    """The folder holding one sub-folder per released model (``saliency/released``)."""
    return Path(str(resources.files("saliency"))) / "released"


def released_names() -> list[str]:
    root = released_root()
    return sorted(p.name for p in root.iterdir() if (p / SPEC_FILE).is_file()) if root.is_dir() else []


def _model_dir(name_or_dir: str | Path) -> Path:
    p = Path(name_or_dir)
    if p.is_dir() and (p / SPEC_FILE).is_file():
        return p
    d = released_root() / str(name_or_dir)
    if not (d / SPEC_FILE).is_file():
        raise UnknownNameError(f"unknown released model {str(name_or_dir)!r}; known: "
                               f"{', '.join(released_names()) or '(none)'}")
    return d


def is_released(name_or_dir: str | Path) -> bool:
    """True if ``name_or_dir`` is a released model name or a folder with a ``spec.json``."""
    try:
        _model_dir(name_or_dir)
    except UnknownNameError:
        return False
    return True


def released_spec(name_or_dir: str | Path) -> dict[str, Any]:
    path = _model_dir(name_or_dir) / SPEC_FILE
    try:
        spec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SchemaError(f"{path}: unreadable released-model spec ({e})") from None
    for key in ("kind", "config", "task", "canvas"):
        if key not in spec:
            raise SchemaError(f"{path}: released-model spec lacks {key!r}")
    if spec["kind"] not in KINDS:
        raise SchemaError(f"{path}: unknown kind {spec['kind']!r}; known: {', '.join(KINDS)}")
    return spec


def load_released(name_or_dir: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The released network (a name in ``saliency/released`` or a folder) in eval mode, float32.

    UnknownNameError: unknown name; SchemaError: bad spec or tensors that do not fit the architecture;
    ChecksumError: unreadable weights file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from saliency.models.zoo import ModelConfig, build_model

    d = _model_dir(name_or_dir)
    spec = released_spec(d)
    cfg = {**spec["config"], "pretrained": False}
    cfg.pop("weights_path", None)
    model = build_model(ModelConfig.from_dict(cfg))
    try:
        tensors = load_file(str(d / WEIGHTS_FILE))
    except (OSError, SafetensorError) as e:
        raise ChecksumError(f"{d / WEIGHTS_FILE}: unreadable released weights ({e})") from None
    state = model.state_dict()
    missing, unexpected = sorted(set(state) - set(tensors)), sorted(set(tensors) - set(state))
    if missing or unexpected:
        raise SchemaError(f"{d / WEIGHTS_FILE}: tensors do not match the architecture "
                          f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(state[k].shape):
            raise SchemaError(f"{d / WEIGHTS_FILE}: tensor {k} has shape {tuple(v.shape)}, the architecture "
                              f"expects {tuple(state[k].shape)}")
        state[k] = v.to(state[k].dtype)
    model.load_state_dict(state)
    model.canvas = tuple(int(v) for v in spec["canvas"])
    model.tta_flip = bool(spec.get("tta_flip", False))
    model.released_name = d.name
    return model.to(torch.device(device)).eval()


def save_released(out_dir: str | Path, model: nn.Module, spec: Mapping[str, Any], card: str) -> Path:
    """Write ``model.safetensors`` (floating tensors as float16), ``spec.json`` and ``card.md``."""
    from safetensors.torch import save_file

    for key in ("kind", "config", "task", "canvas"):
        if key not in spec:
            raise ConfigError(f"save_released: spec needs {key!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous().cpu()
               for k, v in model.state_dict().items()}
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"name": out.name, "kind": str(spec["kind"])})
    (out / SPEC_FILE).write_text(json.dumps(dict(spec), indent=2, sort_keys=True) + "\n")
    (out / CARD_FILE).write_text(card if card.endswith("\n") else card + "\n")
    return out
