"""``saliency predict`` backends: ONNX Runtime (fp32 and int8) gives the PyTorch maps; the threaded file
pipeline keeps the input order and writes every map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from saliency.cli.app import main
from saliency.training import load_model
from saliency.training.checkpoint import save_checkpoint
from saliency.training.inference import make_forward, predict_files
from saliency.training.modeling import TinySaliencyNet, model_spec

CANVAS = (48, 64)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    paths = []
    for k, (h, w) in enumerate([(60, 80), (90, 70), (50, 50)]):
        p = d / f"im{k}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = TinySaliencyNet(task="fixation", width=8).eval()
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    save_checkpoint(path, {"model": model.state_dict(), "model_spec": model_spec(model, "tiny", {}),
                           "canvas": list(CANVAS)})
    return path


@pytest.mark.parametrize(("backend", "tol"), [("onnx", 1e-5), ("onnx-int8", 0.2)])
def test_onnx_backends_match_torch(checkpoint, images, backend, tol):
    torch.set_num_threads(1)
    model = load_model(checkpoint)
    ref = dict(predict_files(make_forward(model, "torch"), images, CANVAS, "fixation", workers=1))
    got = list(predict_files(make_forward(model, backend, threads=1), images, CANVAS, "fixation", workers=2))
    assert [p for p, _ in got] == images                       # input order kept
    for p, m in got:
        assert m.shape == ref[p].shape and float(m.sum()) == pytest.approx(1.0, abs=1e-4)
        assert np.abs(m - ref[p]).max() <= tol * ref[p].max()


def test_predict_cli_onnx_writes_every_map(checkpoint, images, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as rc:
        main(["predict", str(checkpoint), *map(str, images), "--out", str(out), "--backend", "onnx",
              "--threads", "1"])
    assert rc.value.code == 0
    for p in images:
        m = np.load(out / f"{p.stem}.npy")
        assert m.shape == np.asarray(Image.open(p)).shape[:2]
    with pytest.raises(SystemExit) as rc:
        main(["predict", str(checkpoint), str(images[0]), "--out", str(out), "--backend", "tensorrt"])
    assert rc.value.code == 2  # a bad choice is a usage error (README, exit codes)
