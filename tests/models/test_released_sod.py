"""Released models (``saliency.models.released``): the float16 round trip, typed errors, and the shipped
SOD model predicting real SOD test images through ``saliency predict --model sod``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from saliency.errors import SchemaError, UnknownNameError
from saliency.models import build_model
from saliency.models.released import load_released, released_names, released_spec, save_released


def _tiny():
    torch.manual_seed(0)
    return build_model("sodnet_lite0", pretrained=False, decoder_channels=(16, 8), head_channels=4).eval()


def test_float16_round_trip_keeps_predictions_and_settings(tmp_path):
    model = _tiny()
    with torch.no_grad():
        model.head.calibration.copy_(torch.tensor([2.0, -0.5]))
    spec = {"kind": "saliency_net", "config": model.config.to_dict(), "task": "sod", "canvas": [64, 96],
            "tta_flip": True, "tta_scales": [1.0, 1.5]}
    save_released(tmp_path / "tiny", model, spec, "# tiny")
    clone = load_released(tmp_path / "tiny")
    assert clone.canvas == (64, 96) and clone.tta_flip is True and clone.released_name == "tiny"
    assert clone.tta_scales == (1.0, 1.5)
    assert clone.head.calibration.tolist() == [2.0, -0.5]
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0.05)  # float16 weights


def test_unknown_names_and_bad_specs_are_typed_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="known"):
        load_released("no-such-model")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "spec.json").write_text(json.dumps({"kind": "saliency_net"}))
    with pytest.raises(SchemaError, match="config"):
        load_released(tmp_path / "bad")


def test_the_shipped_sod_model_predicts_sod_test_images(datasets_dir, tmp_path):
    from saliency.cli.app import main
    from saliency.datasets import SODFolder
    from saliency.datasets.splits import make_splits

    assert "sod" in released_names()
    spec = released_spec("sod")
    assert spec["task"] == "sod" and spec["tta_flip"] is True and spec["training"]["dataset"] == "sod"
    folder = SODFolder(datasets_dir / "sod")
    test = make_splits(folder.stimuli, (0.7, 0.1, 0.2), "")["test"][:3]  # images it never trained on
    images = [str(folder.image_path(s)) for s in test]
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--model", "sod", *images, "--out", str(tmp_path)])
    assert exc.value.code == 0
    for s in test:
        prob = np.load(tmp_path / f"{folder.image_path(s).stem}.npy")
        mask = folder.mask(s)
        assert prob.shape == mask.shape and 0 <= prob.min() and prob.max() <= 1
        assert np.abs(prob - mask).mean() < 0.25, s
        assert prob[mask].mean() > prob[~mask].mean() + 0.3, s  # the object, not the background


@pytest.mark.slow   # 81 s on one core at load ≈ 3.4: 76 images × 6 views (flip × canvas scales 1, 1.2, 1.4)
def test_the_shipped_sod_weights_reproduce_the_cards_test_scores(datasets_dir):
    """The float16 weights, with the spec's TTA and calibration, score the SOD test split as the card says
    (the card's numbers come from the float32 checkpoint of the run; float16 moves them by < 0.002)."""
    from saliency.datasets import SODFolder
    from saliency.datasets.splits import make_splits
    from saliency.training.evaluation import evaluate_sod

    spec = released_spec("sod")
    model = load_released("sod")
    folder = SODFolder(datasets_dir / "sod")
    split = spec["training"]["split"]
    test = make_splits(folder.stimuli, tuple(split["fractions"]), split["salt"])["test"]
    _, summary = evaluate_sod(model, folder, test, tuple(model.canvas), torch.device("cpu"))
    card = spec["scores"]["sod_test"]
    assert summary["n_images"] == spec["scores"]["n_images"] == 76
    for key in ("max_fm", "mae", "sm", "wfm"):
        assert summary[key] == pytest.approx(card[key], abs=0.002), key
