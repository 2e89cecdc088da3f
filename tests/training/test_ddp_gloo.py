"""Two CPU processes under torchrun (gloo): ranks keep identical weights and the run learns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    import os, sys, torch
    from saliency.datasets.memory import synthetic_source
    from saliency.training import RunConfig, train
    torch.set_num_threads(1)
    cfg = RunConfig.from_dict({"name": "ddp", "seed": 3, "model": {"name": "tiny"},
                               "data": {"height": 24, "width": 32},
                               "optim": {"lr": 0.01},
                               "train": {"epochs": 3, "batch_size": 2, "final_eval": False, "patience": 0}})
    res = train(cfg, run_dir=sys.argv[1], source=synthetic_source(16, 24, 32, seed=2))
    torch.save(res.model.state_dict(), os.path.join(sys.argv[1], f"rank{os.environ['RANK']}.pt"))
''')


def test_two_gloo_ranks_stay_identical_and_learn(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
         str(run_dir)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(run_dir / "rank0.pt", weights_only=True)
    w1 = torch.load(run_dir / "rank1.pt", weights_only=True)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    saved = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(w0[k], saved[k]) for k in w0)  # rank 0 wrote the checkpoint
    history = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3]  # one writer: no duplicate records
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # 16 stimuli → 12-13 in train, batches of 2 per rank: each rank takes half the steps
    assert history[0]["step"] <= 4
