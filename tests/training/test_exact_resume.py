"""A run interrupted after epoch 1 and resumed ends bit-identical to an uninterrupted run (CPU)."""

from __future__ import annotations

import json

import pytest
import torch

from saliency.datasets.memory import synthetic_source
from saliency.errors import ConfigError
from saliency.training import RunConfig, load_model, train
from saliency.training.checkpoint import load_checkpoint


class Interrupt(Exception):
    pass


def _cfg(**kw):
    base = {"name": "r", "seed": 7, "model": {"name": "tiny"},
            "data": {"height": 24, "width": 32},
            "train": {"epochs": 3, "batch_size": 2, "final_eval": False, "patience": 0}}
    cfg = RunConfig.from_dict(base)
    return cfg.replace(**kw) if kw else cfg


def test_resume_after_kill_is_bit_identical(tmp_path):
    src = synthetic_source(10, 24, 32, seed=1)
    full = train(_cfg(), run_dir=tmp_path / "full", source=src)

    def kill_after_first(epoch, record):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(_cfg(), run_dir=tmp_path / "cut", source=src, on_epoch_end=kill_after_first)
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["epoch"] == 1
    resumed = train(_cfg(), run_dir=tmp_path / "cut", source=src, resume=True)

    a = load_checkpoint(full.last_checkpoint)
    b = load_checkpoint(resumed.last_checkpoint)
    assert a["epoch"] == b["epoch"] == 3
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]


def test_checkpoint_loads_with_weights_only_and_rebuilds_the_model(tmp_path):
    src = synthetic_source(6, 24, 32)
    res = train(_cfg(**{"train.epochs": 1}), run_dir=tmp_path / "r", source=src)
    ck = torch.load(res.last_checkpoint, weights_only=True)
    assert set(ck) >= {"model", "optimizer", "scheduler", "scaler", "rng", "epoch", "config"}
    model = load_model(res.last_checkpoint)
    x = torch.zeros(1, 3, 24, 32)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, 1, 24, 32)
    assert float(out.exp().sum()) == pytest.approx(1, abs=1e-5)


def test_resume_refuses_a_different_config(tmp_path):
    src = synthetic_source(6, 24, 32)
    train(_cfg(**{"train.epochs": 1}), run_dir=tmp_path / "r", source=src)
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        train(_cfg(**{"train.epochs": 1, "optim.lr": 0.5}), run_dir=tmp_path / "r", source=src, resume=True)


def test_same_seed_same_weights_different_seed_different(tmp_path):
    src = synthetic_source(6, 24, 32)
    a = train(_cfg(**{"train.epochs": 1}), run_dir=tmp_path / "a", source=src)
    b = train(_cfg(**{"train.epochs": 1}), run_dir=tmp_path / "b", source=src)
    c = train(_cfg(**{"train.epochs": 1, "seed": 8}), run_dir=tmp_path / "c", source=src)
    wa, wb, wc = (load_checkpoint(r.last_checkpoint)["model"] for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
