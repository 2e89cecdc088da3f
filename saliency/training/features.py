"""On-disk cache of frozen encoder features for the readout path (:class:`saliency.models.readout.ReadoutNet`).

Features of a shard set's images on a letterbox canvas are computed once and stored under
``CACHE/<key>/``: ``part-NNNNN.safetensors`` (float16 tensors named ``<stimulus>|<k>``, k = the
``feature_channels`` order of the network) and ``index.json`` (key fields, stimuli, per-part SHA-256).
The key is the SHA-256 of (shards ``manifest_sha256`` + ``fixations_sha256``, canvas, encoder names,
depth strides, SHA-256 of each encoder's ImageNet weight file): any change gives a new key, i.e. the old
entry is not used (invalidation). A part whose bytes differ from the recorded SHA-256 is refused with a
ChecksumError naming the file (delete the folder to recompute).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from saliency.datasets import Letterbox, normalize_image, read_rgb
from saliency.errors import ChecksumError, SchemaError
from saliency.io import sha256_file

PART_SIZE = 128


def cache_key(shards: Any, canvas: tuple[int, int], net: Any) -> dict[str, Any]:
    """The fields that identify a cache entry (see module docstring)."""
    from saliency.models.encoders import efficientnet_lite_weights_path

    weights = {}
    for name in net.encoder_names:
        if name.startswith("effnet_lite") and net.pretrained:
            weights[name] = sha256_file(efficientnet_lite_weights_path(name.replace("effnet_", "")))
        else:
            weights[name] = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in
                                                     net.encoders[net.encoder_names.index(name)].parameters())
                                           ).hexdigest()
    meta = shards.meta
    return {"shards": [meta.get("manifest_sha256"), meta.get("fixations_sha256")], "canvas": list(canvas),
            "encoders": list(net.encoder_names), "depth_strides": list(net.depth_strides),
            "weights_sha256": weights, "dtype": "float16", "version": 1}


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def extract_features(shards: Any, canvas: tuple[int, int], net: Any, cache_dir: str | Path, *,
                     stimuli: Sequence[str] | None = None, hflip: bool = False,
                     on_image: Callable[[str], None] | None = None,
                     device: str | torch.device = "cpu") -> dict[str, list[torch.Tensor]]:
    """stimulus → list of (C_k, h_k, w_k) float16 feature tensors (CPU), from the cache or computed (and cached):
    the features of every input scale of the net (``net.scales``, scale-major, as ``net.features``), each
    scale its own cache entry (the key gains ``"scale"`` for factors other than 1).

    ``hflip``: features of the horizontally flipped canvas (a separate cache entry). ``device``: where the
    encoders run when features are computed (the net is moved there and back).
    """
    out: dict[str, list[torch.Tensor]] = {}
    for scale in getattr(net, "scales", (1.0,)):
        part = _extract_scale(shards, canvas, net, cache_dir, scale, stimuli=stimuli, hflip=hflip,
                              on_image=on_image, device=device)
        for name, feats in part.items():
            out.setdefault(name, []).extend(feats)
    return out


def _extract_scale(shards: Any, canvas: tuple[int, int], net: Any, cache_dir: str | Path, scale: float, *,
                   stimuli: Sequence[str] | None, hflip: bool, on_image: Callable[[str], None] | None,
                   device: str | torch.device) -> dict[str, list[torch.Tensor]]:
    from safetensors.torch import load_file, save_file

    key = cache_key(shards, canvas, net) | {"hflip": hflip} | ({"scale": scale} if scale != 1.0 else {})
    root = Path(cache_dir) / _digest(key)
    names = list(shards.stimuli if stimuli is None else stimuli)
    index_path = root / "index.json"
    if index_path.is_file():
        index = json.loads(index_path.read_text())
        if index.get("key") != key:
            raise SchemaError(f"{index_path}: key does not match its folder name (delete {root})")
        if set(names) <= set(index["stimuli"]):
            return _load(root, index, set(names), load_file)
    root.mkdir(parents=True, exist_ok=True)
    all_names = list(shards.stimuli)
    parts = []
    net.eval()
    device = torch.device(device)
    net.to(device)
    for p0 in range(0, len(all_names), PART_SIZE):
        chunk = all_names[p0:p0 + PART_SIZE]
        tensors = {}
        for name in chunk:
            img = read_rgb(shards.image_path(name))
            lb = Letterbox.fit(img.shape[0], img.shape[1], *canvas)
            x = normalize_image(lb.image_to_canvas(img))[None]
            if hflip:
                x = x.flip(-1)
            with torch.no_grad():
                feats = net.features_at(x.to(device), scale)
            for k, f in enumerate(feats):
                tensors[f"{name}|{k}"] = f[0].to(torch.float16).cpu().contiguous()
            if on_image is not None:
                on_image(name)
        fname = f"part-{p0 // PART_SIZE:05d}.safetensors"
        save_file(tensors, str(root / fname))
        parts.append({"file": fname, "stimuli": chunk, "sha256": sha256_file(root / fname)})
    net.to("cpu")
    index = {"key": key, "stimuli": all_names, "n_features": len(net.feature_channels), "parts": parts}
    index_path.write_text(json.dumps(index, indent=1))
    return _load(root, index, set(names), load_file)


def _load(root: Path, index: dict, wanted: set[str], load_file: Any) -> dict[str, list[torch.Tensor]]:
    out: dict[str, list[torch.Tensor]] = {}
    n = int(index["n_features"])
    for part in index["parts"]:
        if not wanted & set(part["stimuli"]):
            continue
        path = root / part["file"]
        if not path.is_file() or sha256_file(path) != part["sha256"]:
            raise ChecksumError(f"{path}: feature cache part missing or its SHA-256 differs from {root / 'index.json'}"
                                f" (corrupted; delete {root} to recompute)")
        t = load_file(str(path))
        for name in part["stimuli"]:
            if name in wanted:
                out[name] = [t[f"{name}|{k}"] for k in range(n)]
    return out


def canvas_fixations(shards: Any, stimuli: Sequence[str], canvas: tuple[int, int]) -> dict[str, np.ndarray]:
    """stimulus → (n,) int64 flat indices (row·W + col) of its fixations on the letterbox canvas."""
    H, W = canvas
    table = shards.fixations.data
    out = {}
    groups = {k: g for k, g in table.groupby("stimulus")}
    man = shards.manifest.set_index("stimulus")
    for name in stimuli:
        g = groups.get(name)
        h, w = int(man.loc[name, "height"]), int(man.loc[name, "width"])
        lb = Letterbox.fit(h, w, H, W)
        if g is None or not len(g):
            out[name] = np.zeros(0, np.int64)
            continue
        x, y = lb.points_to_canvas(g["x"].to_numpy(), g["y"].to_numpy())
        col = np.clip(np.floor(x).astype(np.int64), 0, W - 1)
        row = np.clip(np.floor(y).astype(np.int64), 0, H - 1)
        out[name] = row * W + col
    return out
