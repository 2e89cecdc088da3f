"""Joint albumentations transforms: fixations stay on the density they came from; seeded per sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from saliency.datasets import (
    AugmentConfig,
    FixationDataset,
    SampleSpec,
    SODDataset,
    SODFolder,
    apply_augmentation,
    build_augmentation,
    collate_saliency,
)
from saliency.datasets.memory import synthetic_source
from saliency.maps.fusion import fixation_count_map


def _flip_only():
    return build_augmentation(AugmentConfig(hflip=True, photometric=False))


def test_hflip_maps_x_to_width_minus_x_like_the_array():
    h, w = 6, 9
    rng = np.random.default_rng(0)
    x = rng.uniform(0, w, 50)
    y = rng.uniform(0, h, 50)
    dens = fixation_count_map(x, y, h, w)
    img = np.zeros((h, w, 3), np.uint8)
    aug = _flip_only()
    flipped = [s for s in range(20) if not np.array_equal(apply_augmentation(aug, s, img, dens, x, y)[1], dens)]
    assert flipped, "no seed flipped in 20 draws"
    _, d2, x2, y2 = apply_augmentation(aug, flipped[0], img, dens, x, y)
    np.testing.assert_array_equal(d2, dens[:, ::-1])
    np.testing.assert_allclose(x2, w - x, atol=1e-5)  # albumentations' (W-1-x) is for pixel centres
    np.testing.assert_allclose(y2, y, atol=1e-5)
    np.testing.assert_array_equal(fixation_count_map(x2, y2, h, w, drop_outside=True), d2)  # every point on its own pixel


def test_edge_points_survive_a_flip():
    img = np.zeros((4, 4, 3), np.uint8)
    dens = np.ones((4, 4), np.float32)
    x, y = np.array([0.1, 3.9]), np.array([0.2, 3.8])
    for s in range(6):
        _, _, x2, _ = apply_augmentation(_flip_only(), s, img, dens, x, y)
        assert len(x2) == 2


def test_photometric_changes_never_move_anything():
    aug = build_augmentation(AugmentConfig(hflip=False, photometric=True))
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (8, 10, 3), dtype=np.uint8)
    dens = rng.random((8, 10)).astype(np.float32)
    x, y = rng.uniform(0, 10, 5), rng.uniform(0, 8, 5)
    changed = 0
    for s in range(10):
        i2, d2, x2, _ = apply_augmentation(aug, s, img, dens, x, y)
        np.testing.assert_array_equal(d2, dens)
        np.testing.assert_allclose(x2, x, atol=1e-5)
        changed += not np.array_equal(i2, img)
    assert changed > 0


def test_defaults_exclude_crops_rotations_and_vertical_flips():
    cfg = AugmentConfig()
    assert cfg.hflip and cfg.photometric and not (cfg.crops or cfg.rotations or cfg.vflip)


def test_dataset_samples_are_aligned_and_reproducible_per_epoch():
    src = synthetic_source(4, 24, 32)
    ds = FixationDataset(src, src.stimuli, SampleSpec(48, 48, AugmentConfig()), seed=3)
    a = ds[1]
    assert a["image"].shape == (3, 48, 48) and a["density"].shape == (1, 48, 48)
    assert float(a["density"].sum()) == pytest.approx(1, abs=1e-5)
    assert float(a["fixation_map"].sum()) == a["points"].shape[0] == 20
    # each fixation lies on the blob: the density at fixated pixels is far above the mean
    d = a["density"][0]
    pts = a["points"].long()
    assert float(d[pts[:, 1], pts[:, 0]].mean()) > 3 * float(d.mean())
    b = ds[1]
    assert torch.equal(a["image"], b["image"])  # same (seed, epoch, index) → same sample
    outs = []
    for e in range(6):
        ds.set_epoch(e)
        outs.append(ds[1]["density"])
    assert any(not torch.equal(outs[0], o) for o in outs[1:])  # flips vary across epochs


def test_collate_pads_points_with_nan():
    src = synthetic_source(3, 16, 16, n_fixations=5)
    ds = FixationDataset(src, src.stimuli, SampleSpec(16, 16, None))
    batch = next(iter(DataLoader(ds, batch_size=3, collate_fn=collate_saliency)))
    assert batch["points"].shape == (3, 5, 2) and batch["n_points"].tolist() == [5, 5, 5]
    assert batch["index"].tolist() == [0, 1, 2] and batch["stimulus"] == src.stimuli


def test_worker_processes_load_the_same_samples(tmp_path):
    src = synthetic_source(4, 16, 20)
    ds = FixationDataset(src, src.stimuli, SampleSpec(16, 20, AugmentConfig()), seed=1)
    single = [ds[i]["image"] for i in range(4)]
    loader = DataLoader(ds, batch_size=1, num_workers=2, collate_fn=collate_saliency,
                        multiprocessing_context="fork")
    multi = [b["image"][0] for b in loader]
    assert all(torch.equal(a, b) for a, b in zip(single, multi, strict=True))


def test_sod_folder_dataset_reads_real_pairs(datasets_dir):
    folder = SODFolder(datasets_dir / "sod")
    names = folder.stimuli[:2]
    ds = SODDataset(datasets_dir / "sod", names, SampleSpec(64, 64, None))
    s = ds[0]
    assert s["image"].shape == (3, 64, 64) and s["mask"].shape == (1, 64, 64)
    m = folder.mask(names[0])
    assert s["orig_size"] == m.shape
    assert 0 < float(s["mask"].mean()) < 1


def test_rotated_sod_masks_are_turned_to_the_image_orientation(datasets_dir):
    """104022's mask is stored 321×481 for a 481×321 image; the clockwise turn aligns its boundary
    with image edges (mean gradient on the boundary well above the image's mean gradient)."""
    from scipy import ndimage as ndi

    from saliency.datasets import read_rgb

    folder = SODFolder(datasets_dir / "sod")
    img = read_rgb(folder.image_path("104022")).mean(2)
    m = folder.mask("104022")
    assert m.shape == img.shape
    grad = np.hypot(ndi.sobel(img, 0), ndi.sobel(img, 1))
    edge = m ^ ndi.binary_erosion(m)
    assert grad[edge].mean() > 1.5 * grad.mean()
