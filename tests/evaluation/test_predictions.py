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


def test_a_folder_of_maps_is_read_once_and_without_torch(tmp_path):
    """Membership never reads a file (Mapping's default __contains__ would); float32 files stay float32, the rest is float64; and
    resolving a folder of maps as predictions (what `saliency evaluate DIR` does) does not import torch."""
    import subprocess
    import sys

    np.save(tmp_path / "a.npy", np.ones((4, 5), np.float32))
    np.save(tmp_path / "b.npy", np.ones((4, 5)))
    preds = FolderPredictions(tmp_path, ["a.jpg", "b.jpg"])
    (tmp_path / "a.npy").write_bytes(b"not a map")          # membership must not notice: it reads nothing
    assert "a.jpg" in preds and "c.jpg" not in preds
    np.save(tmp_path / "a.npy", np.ones((4, 5), np.float32))
    assert preds["a.jpg"].dtype == np.float32 and preds["b.jpg"].dtype == np.float64
    code = ("import sys; from saliency.evaluation.predictions import load_predictions; "
            f"p = load_predictions({str(tmp_path)!r}, ['a.jpg']); p['a.jpg']; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_npy_maps_read_like_numpy_with_the_header_parsed_once(tmp_path):
    """The .npy reader that caches headers gives np.load's arrays (C and Fortran order, byte order, empty) and
    refuses what np.load refuses: short files, object arrays (never unpickled)."""
    from saliency.metrics.predictions import _read_npy

    for a in (np.random.default_rng(0).random((3, 4)).astype(np.float32), np.asfortranarray(np.ones((5, 6))),
              np.arange(6, dtype=">f8").reshape(2, 3), np.zeros((0, 3))):
        np.save(tmp_path / "a.npy", a)
        for _ in range(2):      # parsed, then from the cache
            b = _read_npy(tmp_path / "a.npy")
            assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b)
    np.save(tmp_path / "b.npy", np.ones((30, 40)))
    (tmp_path / "short.npy").write_bytes((tmp_path / "b.npy").read_bytes()[:-100])
    with pytest.raises(ValueError):
        _read_npy(tmp_path / "short.npy")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        _read_npy(tmp_path / "o.npy")
    with pytest.raises(SchemaError):
        FolderPredictions(tmp_path, ["short.jpg"])["short.jpg"]
    (tmp_path / "junk.npy").write_bytes(b"garbage")
    with pytest.raises(SchemaError, match=r"junk\.npy: not a readable saliency map .*not a \.npy file"):
        FolderPredictions(tmp_path, ["junk.jpg"])["junk.jpg"]
