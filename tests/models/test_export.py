"""Exported networks (ONNX via onnxruntime, TorchScript) give PyTorch's output on a real stimulus, at the
trace size and at another size (dynamic axes), and ``saliency export model`` writes them from a checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from saliency.cli.app import main
from saliency.datasets.images import normalize_image
from saliency.models import build_model
from saliency.models.export import export_difference, export_model, run_exported
from saliency.training.checkpoint import save_checkpoint
from saliency.training.modeling import model_spec

ATOL = 1e-4  # max |difference| on the log-density


def _stimulus(datasets_dir, height: int, width: int) -> torch.Tensor:
    """OSIE 1009.jpg (800×600) resized to width×height, ImageNet-normalised, (1, 3, H, W)."""
    with Image.open(datasets_dir / "osie" / "stimuli" / "1009.jpg") as im:
        img = np.asarray(im.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))
    return normalize_image(img)[None]


@pytest.mark.parametrize(("name", "overrides"), [
    ("effnet_lite0", {"pretrained": True}),              # the default model with its ImageNet encoder
    ("effnet_lite0_cbam", {"pretrained": False, "bottleneck": "mhsa"}),  # CBAM + transformer bottleneck
])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_model_equals_pytorch_on_a_real_stimulus(datasets_dir, tmp_path, name, overrides, fmt):
    torch.manual_seed(0)
    model = build_model(name, **overrides).eval()
    with torch.no_grad():  # priors away from their symmetric init, so a wrong crop/offset would show
        for p in model.prior.parameters():
            p.add_(0.3 * torch.randn_like(p))
    path = export_model(model, tmp_path / f"{name}.{fmt}", fmt, 288, 384)
    x = _stimulus(datasets_dir, 288, 384)
    with torch.no_grad():
        ours = model(x)
    theirs = run_exported(path, fmt, x)
    assert theirs.shape == ours.shape == (1, 1, 288, 384)
    assert float((theirs - ours).abs().max()) <= ATOL
    assert float(theirs.exp().sum()) == pytest.approx(1.0, abs=1e-4)  # still a log-density
    # another size (not a multiple of 32) and batch 2: the padding/crop arithmetic is dynamic
    other = torch.cat([_stimulus(datasets_dir, 200, 270), _stimulus(datasets_dir, 200, 270).flip(-1)])
    assert export_difference(model, path, fmt, other) <= ATOL


def _checkpoint(tmp_path, name="effnet_lite0_cbam", canvas=(64, 96), **overrides):
    model = build_model(name, pretrained=False, decoder_channels=(16, 8), head_channels=4, **overrides).eval()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"model": model.state_dict(), "model_spec": model_spec(model, name, {}),
                           "canvas": list(canvas)})
    return path, model


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_model_cli_writes_a_checked_file(tmp_path, capsys, fmt):
    ckpt, model = _checkpoint(tmp_path)
    out = tmp_path / f"model.{fmt}"
    with pytest.raises(SystemExit) as rc:
        main(["export", "model", str(ckpt), "--format", fmt, "--out", str(out), "--json"])
    assert rc.value.code == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["height"], result["width"]) == (64, 96)  # the checkpoint's canvas
    assert result["max_abs_diff"] <= ATOL
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        np.testing.assert_allclose(run_exported(out, fmt, x).numpy(), model(x).numpy(), atol=ATOL, rtol=0)


def test_export_model_cli_rejects_an_unknown_format_and_a_missing_checkpoint(tmp_path):
    ckpt, _ = _checkpoint(tmp_path)
    with pytest.raises(SystemExit) as rc:
        main(["export", "model", str(ckpt), "--format", "tflite", "--out", str(tmp_path / "m")])
    assert rc.value.code == 2
    with pytest.raises(SystemExit) as rc:
        main(["export", "model", str(tmp_path / "nope"), "--format", "onnx", "--out", str(tmp_path / "m")])
    assert rc.value.code == 3
    assert not (tmp_path / "m").exists()

