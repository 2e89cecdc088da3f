"""SOD masks: one reader (saliency.readers.sod) for training, evaluation and the SOD metrics; rotated masks turned
back, square images counted as ambiguous."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from saliency.errors import SchemaError
from saliency.metrics import sod
from saliency.readers.sod import MaskOrientation, SODMasks, read_sod_mask


def _rotated(datasets_dir, folder) -> list[str]:
    """Ids whose stored mask is the transpose of their image (found from the files, not the reader)."""
    out = []
    for s in folder.stimuli:
        with Image.open(datasets_dir / "sod" / "masks" / f"{s}.png") as im:
            if (im.height, im.width) != folder.image_size(s):
                out.append(s)
    return out


def test_rotated_sod_masks_are_turned_back_clockwise_and_counted(datasets_dir):
    folder = SODMasks(datasets_dir / "sod")
    for s in folder.stimuli:
        m = folder.mask(s)
        assert m.shape == folder.image_size(s) and m.dtype == np.uint8
    o = folder.orientation
    assert (o.rotated, o.as_stored, o.ambiguous) == (63, 237, 0)
    s = o.rotated_ids[0]
    with Image.open(datasets_dir / "sod" / "masks" / f"{s}.png") as im:
        raw = np.asarray(im.convert("L"))
    np.testing.assert_array_equal(folder.mask(s), np.rot90(raw, -1))
    assert folder.orientation.rotated == 63        # re-reading does not count twice


def test_training_folder_reads_masks_with_the_same_function(datasets_dir):
    pytest.importorskip("torch")
    from saliency.datasets import SODFolder

    train, shared = SODFolder(datasets_dir / "sod"), SODMasks(datasets_dir / "sod")
    rotated = _rotated(datasets_dir, shared)[:2]
    for s in [*shared.stimuli[:2], *rotated]:
        np.testing.assert_array_equal(train.mask(s), shared.mask(s) > 0)
    assert train.orientation.rotated == len(rotated)


def test_square_images_are_ambiguous_and_other_mismatches_are_errors(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "images" / "sq.jpg")
    Image.new("RGB", (50, 30)).save(tmp_path / "images" / "wide.jpg")
    mask = np.zeros((40, 40), np.uint8)
    mask[5:10, 20:30] = 255
    Image.fromarray(mask).save(tmp_path / "masks" / "sq.png")
    Image.fromarray(np.zeros((31, 50), np.uint8)).save(tmp_path / "masks" / "wide.png")
    folder = SODMasks(tmp_path)
    np.testing.assert_array_equal(folder.mask("sq"), mask)          # as stored: the shape cannot tell
    assert folder.orientation.ambiguous == 1 and folder.orientation.ambiguous_ids == ["sq"]
    assert "square" in folder.orientation.describe()
    with pytest.raises(SchemaError, match=r"wide\.png"):
        folder.mask("wide")
    report = MaskOrientation()
    read_sod_mask(tmp_path / "masks" / "sq.png", (40, 40), report)
    assert report.to_dict()["ambiguous"] == 1


def test_sod_folder_evaluation_scores_rotated_masks_in_image_orientation(datasets_dir):
    folder = SODMasks(datasets_dir / "sod")
    names = [*_rotated(datasets_dir, folder)[:3], *folder.stimuli[:2]]
    preds = {s: folder.mask(s).astype(np.float64) / 255 for s in names}   # perfect predictions
    summary, rows = sod.evaluate_sod_folder(preds, datasets_dir / "sod", names)
    assert summary["mae"] == 0.0 and summary["max_fm"] == pytest.approx(1.0)
    assert summary["mask_orientation"]["rotated"] == 3 and len(rows) == 5
    with pytest.raises(SchemaError, match="no prediction"):
        sod.evaluate_sod_folder({}, datasets_dir / "sod", names)


def test_cli_evaluate_sod_folder_reports_rotated_masks(datasets_dir, tmp_path, capsys):
    import json

    from saliency.cli.app import main

    folder = SODMasks(datasets_dir / "sod")
    names = [*_rotated(datasets_dir, folder)[:2], folder.stimuli[0]]
    preds = tmp_path / "preds"
    preds.mkdir()
    for s in names:
        np.save(preds / f"{s}.npy", folder.mask(s).astype(np.float32) / 255)
    (tmp_path / "split.json").write_text(json.dumps({"splits": {"test": names}}))   # write_splits format
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(preds), "--sod", str(datasets_dir / "sod"), "--stimuli-file",
              str(tmp_path / "split.json"), "--split", "test", "--json", "--out", str(tmp_path / "out")])
    assert exc.value.code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_images"] == 3 and summary["mae"] == 0.0
    assert summary["mask_orientation"]["rotated"] == 2 and summary["mask_orientation"]["ambiguous"] == 0
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(preds)])                 # neither --shards nor --sod: usage error
    assert exc.value.code == 2


def test_predictions_in_the_stored_mask_orientation_are_turned_like_the_mask(datasets_dir):
    """Published maps stored like the (transposed) mask score exactly as the same maps in image orientation."""
    folder = SODMasks(datasets_dir / "sod")
    rotated = _rotated(datasets_dir, folder)[:2]
    names = [*rotated, folder.stimuli[0]]
    rng = np.random.default_rng(0)
    upright = {s: np.clip(folder.mask(s) / 255.0 + rng.normal(0, 0.2, folder.mask(s).shape), 0, 1) for s in names}
    stored = {s: (np.rot90(upright[s], 1) if s in rotated else upright[s]) for s in names}  # as the masks are stored
    a, _ = sod.evaluate_sod_folder(upright, datasets_dir / "sod", names)
    b, _ = sod.evaluate_sod_folder(stored, datasets_dir / "sod", names)
    assert a["prediction_orientation"] == {"as_given": 3, "rotated": 0, "rotated_ids": []}
    assert b["prediction_orientation"] == {"as_given": 1, "rotated": 2, "rotated_ids": sorted(rotated)}
    for k in ("mae", "sm", "max_fm", "wfm"):
        assert b[k] == pytest.approx(a[k], abs=1e-12)
    # a transposed prediction for an image whose mask is NOT stored transposed is still an error
    wrong = dict(upright)
    wrong[folder.stimuli[0]] = upright[folder.stimuli[0]].T
    with pytest.raises(SchemaError, match="prediction for"):
        sod.evaluate_sod_folder(wrong, datasets_dir / "sod", names)
