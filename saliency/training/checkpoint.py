"""Checkpoints: plain dicts of tensors/numbers/strings written atomically, loadable with weights_only=True.

Contents: ``model`` (state dict), ``optimizer``, ``scheduler``, ``scaler`` (state dicts), ``rng``
(torch CPU/CUDA generator states as uint8 tensors, numpy's MT19937 state as an int64 tensor plus
numbers, Python's ``random`` state as an int64 tensor), ``epoch`` (completed epochs), ``step``,
``best`` (monitored value), ``bad_epochs`` (early-stopping counter), ``history`` (epoch records),
``config`` (resolved TOML text), ``model_spec`` (to rebuild the network), ``canvas`` (height, width),
``format`` (version).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from saliency.errors import ChecksumError, SchemaError
from saliency.io import atomic_write

FORMAT = "saliency.checkpoint/1"


def rng_state() -> dict[str, Any]:
    """Every RNG the training loop touches, as tensors and primitives."""
    np_state = np.random.get_state()  # noqa: NPY002 (the legacy global RNG third-party code may use)
    py_version, py_internal, py_gauss = random.getstate()
    out: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(np_state[1], np.int64)),
        "numpy_pos": int(np_state[2]),
        "numpy_has_gauss": int(np_state[3]),
        "numpy_cached_gaussian": float(np_state[4]),
        "python_version": int(py_version),
        "python_state": torch.tensor(py_internal, dtype=torch.int64),
        "python_gauss": py_gauss,
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = ("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"],
                state["numpy_has_gauss"], state["numpy_cached_gaussian"])
    np.random.set_state(np_state)  # noqa: NPY002
    random.setstate((state["python_version"], tuple(int(v) for v in state["python_state"].tolist()),
                     state["python_gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Atomically ``torch.save`` ``state`` (plus the format tag) to ``path``."""
    state = {**state, "format": FORMAT}
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load with ``weights_only=True`` (nothing in the file is executed)."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError/RuntimeError on damaged files
        raise ChecksumError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise SchemaError(f"{path}: not a saliency checkpoint (format {ckpt.get('format')!r}, expected {FORMAT!r})"
                          if isinstance(ckpt, dict) else f"{path}: not a saliency checkpoint")
    return ckpt


def require_fields(ckpt: dict[str, Any], path: str | Path, fields: tuple[str, ...]) -> None:
    """A :class:`SchemaError` naming ``path`` when the checkpoint lacks any of ``fields`` (damaged, or
    written by other code with the right format tag)."""
    missing = [f for f in fields if f not in ckpt]
    if missing:
        raise SchemaError(f"{path}: checkpoint lacks {missing} (damaged, or not written by saliency train)")


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The uniform average of model state dicts with the same keys and shapes (weight averaging of
    checkpoints of one run): every floating-point tensor (weights, BatchNorm running statistics) is
    ``sum / n`` in its own dtype; other tensors (counters such as ``num_batches_tracked``) are taken from
    the last state. Raises SchemaError when the keys or shapes differ."""
    if not states:
        raise SchemaError("average_state_dicts: no state dicts given")
    keys = list(states[-1])
    for i, s in enumerate(states):
        if list(s) != keys:
            raise SchemaError(f"average_state_dicts: state {i} has other keys than the last state")
        bad = [k for k in keys if s[k].shape != states[-1][k].shape]
        if bad:
            raise SchemaError(f"average_state_dicts: state {i} differs in shape at {bad[0]}")
    out = {}
    for k in keys:
        last = states[-1][k]
        if last.is_floating_point():
            total = states[0][k].clone()
            for s in states[1:]:
                total = total + s[k]
            out[k] = total / len(states)
        else:
            out[k] = last.clone()
    return out
