"""Benchmark submissions (saliency.evaluation.submission): MIT300 / CAT2000 JPEG layout and the Tübingen HDF5 of
log-densities, read back by pysaliency's HDF5Model in the reference venv."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saliency.errors import SchemaError
from saliency.evaluation.submission import write_jpeg_submission, write_tuebingen_submission
from saliency.interop import read_predictions_hdf5
from saliency.metrics.probabilistic import logsumexp


def _stimuli(tmp: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    out = []
    for rel, (h, w) in {"Action/001.jpg": (20, 30), "Art/001.jpg": (16, 24), "Art/002.jpg": (16, 24)}.items():
        p = tmp / "Stimuli" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(p)
        out.append(p)
    return out


def _log_density(h: int, w: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(h, w))
    return a - logsumexp(a)


def test_cat2000_and_mit300_jpeg_layouts(tmp_path):
    stims = _stimuli(tmp_path)
    maps = [(p, np.exp(_log_density(*Image.open(p).size[::-1], k))) for k, p in enumerate(stims)]
    files = write_jpeg_submission(maps, tmp_path / "cat", layout="cat2000")
    assert [f.relative_to(tmp_path / "cat").as_posix() for f in files] == ["Action/001.jpg", "Art/001.jpg",
                                                                           "Art/002.jpg"]
    for f, p in zip(files, stims, strict=True):
        with Image.open(f) as im, Image.open(p) as st:
            assert im.format == "JPEG" and im.mode == "L" and im.size == st.size
            assert np.asarray(im).max() >= 250 and np.asarray(im).min() <= 5
    files = write_jpeg_submission(maps[1:], tmp_path / "mit", layout="mit300")
    assert [f.relative_to(tmp_path / "mit").as_posix() for f in files] == ["001.jpg", "002.jpg"]
    # MIT300 has one folder: two stimuli with the same stem collide
    with pytest.raises(SchemaError, match="both be written"):
        write_jpeg_submission(maps[:2], tmp_path / "mit2", layout="mit300")
    with pytest.raises(SchemaError, match="sized like the stimuli"):
        write_jpeg_submission([(stims[0], np.ones((5, 5)))], tmp_path / "bad", layout="cat2000")


def test_tuebingen_hdf5_round_trip_and_invalid_densities(tmp_path):
    stims = _stimuli(tmp_path)
    lds = [(p, _log_density(*Image.open(p).size[::-1], k)) for k, p in enumerate(stims)]
    h5 = write_tuebingen_submission(lds, tmp_path / "sub.hdf5")
    back = read_predictions_hdf5(h5)
    assert sorted(back) == ["Action/001.jpg", "Art/001.jpg", "Art/002.jpg"]
    np.testing.assert_array_equal(back["Art/002.jpg"], lds[2][1])
    bad = lds[1][1].copy()
    bad[0, 0] = -np.inf
    with pytest.raises(SchemaError, match=r"001\.jpg.*zero probability"):
        write_tuebingen_submission([lds[0], (stims[1], bad)], tmp_path / "bad.hdf5")
    with pytest.raises(SchemaError, match="not normalised"):
        write_tuebingen_submission([(stims[0], lds[0][1] + 1.0)], tmp_path / "bad.hdf5")


def test_pysaliency_reads_the_tuebingen_submission(tmp_path, ref_python):
    stims = _stimuli(tmp_path)
    lds = [(p, _log_density(*Image.open(p).size[::-1], k)) for k, p in enumerate(stims)]
    h5 = write_tuebingen_submission(lds, tmp_path / "sub.hdf5")
    script = textwrap.dedent(f"""
        import json, numpy as np, pysaliency
        stimuli = pysaliency.FileStimuli({json.dumps([str(p) for p in stims])})
        model = pysaliency.HDF5Model(stimuli, {json.dumps(str(h5))})
        print(json.dumps([model.log_density(s).tolist() for s in stimuli]))
    """)
    r = subprocess.run([str(ref_python), "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    for (_, ld), got in zip(lds, json.loads(r.stdout), strict=True):
        np.testing.assert_array_equal(np.asarray(got), ld)
