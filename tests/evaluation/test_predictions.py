"""A checkpoint as a prediction source (the evaluation layer) next to map files (metrics.predictions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from saliency.errors import SchemaError
from saliency.evaluation.predictions import CheckpointPredictions, load_predictions
from saliency.metrics.predictions import FolderPredictions, read_predictions
from saliency.training import load_model, predict_maps
from saliency.training.checkpoint import save_checkpoint
from saliency.training.modeling import build_network, model_spec


def _checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_network("tiny", {}, "fixation")
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(ckpt, {"model": model.state_dict(), "model_spec": model_spec(model, "tiny", {}),
                           "canvas": [32, 48]})
    return ckpt


def test_checkpoint_predictions_are_the_models_maps_at_the_image_size(tmp_path):
    ckpt = _checkpoint(tmp_path)
    image = tmp_path / "a.png"
    Image.fromarray((np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)).save(image)
    preds = load_predictions(ckpt, ["a.png"], image_path=lambda s: tmp_path / s)
    assert isinstance(preds, CheckpointPredictions) and list(preds) == ["a.png"]
    (_, want), = list(predict_maps(load_model(ckpt), [image]))
    got = preds["a.png"]
    assert got.shape == (20, 30) and got.dtype == np.float64
    np.testing.assert_array_equal(got, want.astype(np.float64))
    with pytest.raises(KeyError):
        preds["b.png"]
    with pytest.raises(SchemaError, match="needs the stimulus images"):
        load_predictions(ckpt, ["a.png"])


def test_map_files_are_read_by_the_metrics_layer(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((4, 5)))
    assert isinstance(load_predictions(tmp_path, ["a.png"]), FolderPredictions)
    with pytest.raises(SchemaError, match="folder of PNG/NPY/NPZ maps or an HDF5 file"):
        read_predictions(_checkpoint(tmp_path), ["a.png"])
