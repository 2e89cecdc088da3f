"""pysaliency HDF5, PNG and NPY exchange: our own round trip, and pysaliency reading what we write
(and we reading what pysaliency writes) in the reference venv (the ``ref_python`` fixture: required in CI)."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency.fixations import DatasetMeta, FixationTable, StimulusInfo
from saliency.interop import (
    export_fixations,
    export_predictions,
    map_to_uint8,
    minimal_unique_filenames,
    read_fixations_hdf5,
    read_prediction_npy,
    read_prediction_png,
    read_predictions_hdf5,
    read_stimuli_hdf5,
)


def _table(tmp: Path) -> FixationTable:
    rng = np.random.default_rng(3)
    stimuli = {}
    for name, (w, h) in {"a.png": (30, 20), "b.png": (24, 16)}.items():
        p = tmp / "img" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(p)
        stimuli[name] = StimulusInfo(name, w, h, str(p))
    rows = []
    for stim, info in stimuli.items():
        for obs in ("s01", "s02"):
            for trial in (0, 1) if stim == "a.png" else (0,):
                k = int(rng.integers(1, 5))
                for i in range(k):
                    rows.append({"dataset": "toy", "stimulus": stim, "observer": obs, "trial": trial, "index": i,
                                 "x": float(rng.uniform(0, info.width_px)), "y": float(rng.uniform(0, info.height_px)),
                                 "t_start_ms": 250.0 * i, "duration_ms": 200.0 + i, "eye": "left",
                                 "source": f"toy.asc:{len(rows) + 1}"})
    return FixationTable.from_frame(pd.DataFrame(rows), DatasetMeta("toy", stimuli))


def _canon(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["source"]).sort_values(["stimulus", "observer", "trial", "index"]).reset_index(drop=True)


def test_fixations_round_trip_through_our_hdf5(tmp_path):
    table = _table(tmp_path)
    files = export_fixations(table, tmp_path / "out")
    back = read_fixations_hdf5(files["fixations"])
    assert isinstance(back, FixationTable) and back.meta == table.meta
    pd.testing.assert_frame_equal(_canon(back.data), _canon(table.data), check_exact=False, rtol=1e-12)
    paths, shapes = read_stimuli_hdf5(files["stimuli"])
    assert [p.name for p in paths] == ["a.png", "b.png"] and all(p.is_file() for p in paths)
    assert shapes == [(20, 30, 3), (16, 24, 3)]


def test_predictions_round_trip_hdf5_png_npy(tmp_path):
    rng = np.random.default_rng(0)
    maps = [(tmp_path / "stim" / "x" / "1.jpg", rng.random((6, 8))), (tmp_path / "stim" / "y" / "1.jpg", rng.random((5, 7)))]
    out = export_predictions(maps, tmp_path / "pred")
    back = read_predictions_hdf5(out["hdf5"])
    assert sorted(back) == ["x/1.jpg", "y/1.jpg"]
    np.testing.assert_array_equal(back["x/1.jpg"], maps[0][1])
    npy = read_prediction_npy(tmp_path / "pred" / "npy" / "y" / "1.npy")
    assert npy.dtype == np.float32 and np.allclose(npy, maps[1][1], atol=1e-7)
    png = read_prediction_png(tmp_path / "pred" / "png" / "x" / "1.png")
    assert png.dtype == np.uint8 and png.shape == (6, 8) and png.max() == 255 and png.min() == 0
    np.testing.assert_array_equal(png, map_to_uint8(maps[0][1]))


def test_uint8_scaling_of_log_density_matches_density():
    d = np.array([[0.1, 0.2], [0.3, 0.4]])
    np.testing.assert_array_equal(map_to_uint8(np.log(d), log_density=True), map_to_uint8(d))
    assert (map_to_uint8(np.ones((3, 3))) == 0).all()


def test_minimal_unique_filenames_matches_pysaliency_rule():
    assert minimal_unique_filenames(["/d/s/1.jpg", "/d/s/2.jpg"]) == ["1.jpg", "2.jpg"]
    assert minimal_unique_filenames(["/d/a/1.jpg", "/d/b/1.jpg"]) == ["a/1.jpg", "b/1.jpg"]
    assert minimal_unique_filenames(["/d/a/1.jpg"]) == ["1.jpg"]


# pysaliency 0.2.22 writes attributes with np.string_, removed in NumPy 2: alias it for its writers.
_PYSAL = textwrap.dedent("""
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    np.string_ = np.bytes_
    import pysaliency
    from pysaliency.precomputed_models import HDF5SaliencyMapModel, export_model_to_hdf5
    d = sys.argv[1]
    stim = pysaliency.read_hdf5(d + "/stimuli.hdf5")
    fix = pysaliency.read_hdf5(d + "/fixations.hdf5")
    model = HDF5SaliencyMapModel(stim, d + "/pred/predictions.hdf5")
    out = {"type": type(fix).__name__, "x": fix.x.tolist(), "y": fix.y.tolist(), "t": fix.t.tolist(),
           "n": fix.n.tolist(), "subjects": fix.subjects.tolist(), "durations": fix.duration.tolist(),
           "train_lengths": fix.train_lengths.tolist(), "shapes": [[int(v) for v in s] for s in stim.shapes],
           "filenames": list(stim.filenames),
           "smap0": model.saliency_map(stim[0]).tolist()}
    # pysaliency writes; we read
    fix2 = pysaliency.FixationTrains.from_fixation_trains(
        [[1.5, 2.5, np.nan], [3.0, 4.0, 5.0]], [[1.0, 2.0, np.nan], [6.0, 7.0, 8.0]],
        [[0.0, 0.3, np.nan], [0.0, 0.2, 0.4]], [0, 1], [0, 1])
    fix2.to_hdf5(d + "/ps_fixations.hdf5")
    class Const(pysaliency.SaliencyMapModel):
        def _saliency_map(self, s):
            return np.arange(s.shape[0] * s.shape[1], dtype=float).reshape(s.shape[:2])
    export_model_to_hdf5(Const(), stim, d + "/ps_predictions.hdf5")
    stim.to_hdf5(d + "/ps_stimuli.hdf5")
    print(json.dumps(out))
""")


def test_pysaliency_reads_what_we_write_and_we_read_what_it_writes(tmp_path, ref_python):
    table = _table(tmp_path)
    d = tmp_path / "out"
    export_fixations(table, d)
    rng = np.random.default_rng(1)
    preds = [(Path(table.meta.stimuli[s].path), rng.random((table.meta.stimuli[s].height_px,
                                                            table.meta.stimuli[s].width_px))) for s in ("a.png", "b.png")]
    export_predictions(preds, d / "pred", formats=["hdf5"])
    script = tmp_path / "ps.py"
    script.write_text(_PYSAL)
    proc = subprocess.run([str(ref_python), str(script), str(d)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    # pysaliency sees our fixations: same positions, stimulus indices, seconds, one train per trial
    df = table.data.sort_values(["stimulus", "observer", "trial", "index"]).reset_index(drop=True)
    assert got["type"] == "FixationTrains"
    np.testing.assert_allclose(got["x"], df["x"])
    np.testing.assert_allclose(got["y"], df["y"])
    np.testing.assert_allclose(got["t"], df["t_start_ms"] / 1000)
    np.testing.assert_allclose(got["durations"], df["duration_ms"] / 1000)
    assert got["n"] == [0 if s == "a.png" else 1 for s in df["stimulus"]]
    assert got["subjects"] == [0 if o == "s01" else 1 for o in df["observer"]]
    assert got["shapes"] == [[20, 30, 3], [16, 24, 3]]
    assert [Path(f).resolve() for f in got["filenames"]] == [Path(table.meta.stimuli[s].path).resolve() for s in ("a.png", "b.png")]
    np.testing.assert_allclose(got["smap0"], preds[0][1])

    # we read what pysaliency wrote
    back = read_fixations_hdf5(d / "ps_fixations.hdf5", stimuli=["a.png", "b.png"], dataset="ps")
    assert list(back["x"]) == [1.5, 2.5, 3.0, 4.0, 5.0] and list(back["stimulus"]) == ["a.png", "a.png"] + ["b.png"] * 3
    assert list(back["index"]) == [0, 1, 0, 1, 2] and list(back["observer"]) == ["0", "0", "1", "1", "1"]
    np.testing.assert_allclose(back["t_start_ms"], [0, 300, 0, 200, 400])
    ps_pred = read_predictions_hdf5(d / "ps_predictions.hdf5")
    assert sorted(ps_pred) == ["a.png", "b.png"]
    np.testing.assert_array_equal(ps_pred["b.png"], np.arange(16 * 24, dtype=float).reshape(16, 24))
    paths, shapes = read_stimuli_hdf5(d / "ps_stimuli.hdf5")
    assert [p.resolve() for p in paths] == [Path(table.meta.stimuli[s].path).resolve() for s in ("a.png", "b.png")]
    assert shapes == [(20, 30, 3), (16, 24, 3)]


def test_predict_and_export_write_the_same_png(tmp_path):
    """One 8-bit scaling: ``saliency predict --format png`` writes the min–max PNG of ``export``."""
    import torch

    from saliency.cli.app import main
    from saliency.training import load_model, predict_maps
    from saliency.training.checkpoint import save_checkpoint
    from saliency.training.modeling import build_network, model_spec

    torch.manual_seed(0)
    model = build_network("tiny", {}, "fixation")
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(ckpt, {"model": model.state_dict(), "model_spec": model_spec(model, "tiny", {}),
                           "canvas": [32, 48]})
    image = _table(tmp_path).meta.stimuli["a.png"].path
    with pytest.raises(SystemExit) as rc:
        main(["predict", str(ckpt), image, "--out", str(tmp_path / "out"), "--format", "png"])
    assert rc.value.code == 0
    (_, smap), = list(predict_maps(load_model(ckpt), [image]))
    got = read_prediction_png(tmp_path / "out" / "a.png")
    np.testing.assert_array_equal(got, map_to_uint8(smap))
    assert got.min() == 0 and got.max() == 255
