"""Fuzz over the shard, checkpoint and prediction loaders: truncations and byte flips of every file.

Invariants (docs/robustness.md): ``saliency verify --deep`` exits 1 for any damage to a shard set and never
passes it; loading damaged checkpoints and prediction files raises a SaliencyError naming the file; no
traceback anywhere.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from saliency.errors import SaliencyError


def _damages(data: bytes, seed: int, n_flips: int = 3):
    rng = random.Random(seed)
    yield "empty", b""
    yield "half", data[: len(data) // 2]
    yield "one byte short", data[:-1]
    for _ in range(n_flips):
        i = rng.randrange(len(data))
        b = bytearray(data)
        b[i] ^= 1 << rng.randrange(8)
        yield f"flip at {i}", bytes(b)


def _same_json(a: bytes, b: bytes) -> bool:
    import json

    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return False


def test_every_damage_to_every_shard_file_fails_verify(shards, cli):
    files = sorted(p for p in shards.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"meta.json", "manifest.parquet", "fixations.parquet"}
    for k, f in enumerate(files):
        clean = f.read_bytes()
        for label, bad in _damages(clean, seed=k):
            f.write_bytes(bad)
            code, out, err = cli("verify", shards, "--deep")
            assert "Traceback" not in out + err
            if bad == clean or (f.name == "meta.json" and _same_json(bad, clean)):
                continue  # meta.json's seal covers its content: a lost final newline changes nothing
            assert code == 1, f"{f.relative_to(shards)} {label}: verify exit {code}\n{out}{err}"
        f.write_bytes(clean)
    assert cli("verify", shards, "--deep")[0] == 0


def test_damaged_checkpoints_are_errors_naming_the_file(tmp_path):
    from saliency.training.checkpoint import save_checkpoint
    from saliency.training.predict import load_model

    p = tmp_path / "m.pt"
    save_checkpoint(p, {"model": {"w": torch.arange(64, dtype=torch.float32)}, "model_spec": {"name": "nope"},
                        "canvas": [8, 8]})
    clean = p.read_bytes()
    for label, bad in _damages(clean, seed=1, n_flips=8):
        p.write_bytes(bad)
        with pytest.raises(SaliencyError, match=r"m\.pt"):
            load_model(p)
        assert label


def test_damaged_prediction_files_are_errors_naming_the_file(tmp_path):
    from saliency.metrics.predictions import FolderPredictions

    for suffix in (".npy", ".npz", ".png"):
        folder = tmp_path / suffix[1:]
        folder.mkdir()
        p = folder / f"a{suffix}"
        arr = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
        if suffix == ".npy":
            np.save(p, arr)
        elif suffix == ".npz":
            np.savez(p, arr)
        else:
            from PIL import Image

            Image.fromarray((arr * 255).astype(np.uint8)).save(p)
        clean = p.read_bytes()
        for _label, bad in _damages(clean, seed=len(suffix), n_flips=10):
            p.write_bytes(bad)
            preds = FolderPredictions(folder, ["a.jpg"])
            try:
                m = preds["a.jpg"]
            except SaliencyError as exc:
                assert str(p) in str(exc)
            else:  # a flip inside the values is a valid (different) map: it is still 2-D numbers
                assert m.ndim == 2 and m.dtype in (np.float32, np.float64)


@pytest.fixture
def shards(shard_master, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(shard_master, tmp_path / "shards"))
