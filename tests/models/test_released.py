"""Released models (saliency/models/released.py): write → load by folder reproduces the network in float16,
malformed or tampered files are refused with typed errors, and the CLI accepts a released model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from saliency.cli.app import main
from saliency.errors import ChecksumError, ConfigError, SchemaError, UnknownNameError
from saliency.io import sha256_file
from saliency.models import build_model
from saliency.models.released import (
    WEIGHTS_FILE,
    check_external,
    load_released,
    released_root,
    save_released,
)


def _tiny_net():
    torch.manual_seed(0)
    return build_model("resnet", encoder_width=0.25, decoder_channels=(16, 8), n_priors=2, head_channels=8).eval()


def _save(tmp_path, model):
    spec = {"kind": "saliency_net", "config": model.config.to_dict(), "canvas": [32, 48], "task": "fixation",
            "description": "test net"}
    return save_released(tmp_path / "tiny", model, spec, "# tiny\n")


def test_save_then_load_reproduces_the_network_in_float16(tmp_path):
    model = _tiny_net()
    d = _save(tmp_path, model)
    loaded = load_released(d)
    assert loaded.canvas == (32, 48) and loaded.task == "fixation" and not loaded.training
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.allclose(a, b, atol=2e-2), float((a - b).abs().max())
    assert torch.exp(b).sum().item() == pytest.approx(1.0, abs=1e-4)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown released model 'no-such-model'"):
        load_released("no-such-model")
    assert released_root().name == "released"


def test_wrong_tensors_and_corrupt_files_are_refused(tmp_path):
    d = _save(tmp_path, _tiny_net())
    spec = json.loads((d / "spec.json").read_text())
    spec["config"]["head_channels"] = 4  # the architecture no longer matches the stored tensors
    (d / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(SchemaError, match="shape"):
        load_released(d)
    (d / WEIGHTS_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(ChecksumError, match="unreadable released weights"):
        load_released(d)


def test_referenced_weight_files_are_checked_by_hash(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    spec = {"external": [{"prefix": "enc.", "package": "pkg", "sha256": sha256_file(f)}]}
    check_external(spec, {"enc.": f})
    f.write_bytes(b"abd")
    with pytest.raises(ConfigError, match="differs"):
        check_external(spec, {"enc.": f})


def test_predict_cli_accepts_a_released_model_folder(tmp_path, capsys):
    d = _save(tmp_path, _tiny_net())
    img = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(img)
    with pytest.raises(SystemExit) as rc:
        main(["predict", str(d), str(img), "--out", str(tmp_path / "out")])
    assert rc.value.code == 0
    m = np.load(tmp_path / "out" / "a.npy")
    assert m.shape == (20, 30) and m.sum() == pytest.approx(1.0, abs=1e-4)
