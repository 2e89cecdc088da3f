"""Full OSIE and MIT1003 builds from ../shared: build, verify, resume after a kill, render (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from saliency.cli.app import main
from saliency.io import sha256_file
from saliency.maps import MapOptions
from saliency.shards import build_shards, open_shards

pytestmark = pytest.mark.slow


def _read(dataset: str, datasets_dir: Path):
    if dataset == "osie":
        from saliency.readers.nus import read_nus

        return read_nus(datasets_dir / "osie")
    from saliency.readers.fixatons import read_fixatons

    return read_fixatons(datasets_dir / "mit1003", workers=2)


@pytest.mark.parametrize(("dataset", "n", "mode"), [("osie", 700, "constant"), ("mit1003", 1003, "mit_fft")])
def test_full_dataset_builds_verifies_resumes_and_renders(dataset, n, mode, datasets_dir, tmp_path):
    table = _read(dataset, datasets_dir)
    root = tmp_path / dataset / "shards"
    opts = MapOptions(sigma=24.0, mode=mode)
    result = build_shards(table, root, opts, workers=2)
    assert result.finalized and result.n_maps_built == n
    ss = open_shards(root)
    assert len(ss) == n and ss.verify().ok
    first = ss.stimuli[0]
    d = ss.density(first)
    assert d.shape == (ss.manifest.iloc[0]["height"], ss.manifest.iloc[0]["width"])
    assert float(d.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-4)
    # simulated kill: one shard half-written, meta gone → only that shard is rebuilt, bytes identical
    before = sha256_file(root / "meta.json")
    victim = root / ss.meta["shards"]["00001"]["file"]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    (root / "meta.json").unlink()
    again = build_shards(table, root, opts, workers=2)
    assert again.built == ["00001"] and again.finalized
    assert sha256_file(root / "meta.json") == before
    png = tmp_path / f"{dataset}.png"
    with pytest.raises(SystemExit) as rc:
        main(["show", first, "--shards", str(root), "--out", str(png)])
    assert rc.value.code == 0 and png.stat().st_size > 10_000
