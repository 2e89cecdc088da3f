"""Coarse-to-fine inference: cell selection, combination, compute report."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError
from saliency.models.coarse_to_fine import CoarseToFine, CoarseToFineConfig
from saliency.models.map_similarity import kl_divergence
from saliency.models.map_similarity import pearson_cc as correlation_coefficient


def conv_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1)).eval()


def log_density_model(net: nn.Module):
    def run(x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        return net(x).reshape(b, -1).log_softmax(-1).reshape(b, 1, h, w)

    return run


def blob_image(h: int = 96, w: int = 128, cy: int = 70, cx: int = 100) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    g = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 6.0**2))
    return g.expand(1, 3, h, w).clone()


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x.mean(1, keepdim=True)


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="coarse_scale"):
        CoarseToFineConfig(coarse_scale=0)
    with pytest.raises(ConfigError, match="calibrate"):
        CoarseToFineConfig(calibrate="x")
    with pytest.raises(ConfigError):
        CoarseToFine(brightness, brightness, top_k=0)


def test_the_refined_cell_is_where_the_salient_blob_is() -> None:
    c2f = CoarseToFine(brightness, brightness, patch_px=32, top_k=1, context_px=8)
    out = c2f.run(blob_image(), compare=False, count_macs=False)
    assert out.report.boxes == [[(64, 96, 96, 128)]]
    assert out.map.shape == (1, 1, 96, 128)


def test_same_model_at_full_scale_reproduces_the_full_pass() -> None:
    fine = log_density_model(conv_net())
    c2f = CoarseToFine(fine, fine, coarse_scale=1.0, patch_px=32, top_k=3, context_px=200, log_density=True)
    x = torch.randn(2, 3, 40, 70)
    res = c2f.run(x)
    torch.testing.assert_close(res.map, fine(x), atol=1e-4, rtol=1e-4)
    assert res.report.cc == pytest.approx(1.0, abs=1e-6)
    assert res.report.kl == pytest.approx(0.0, abs=1e-6)


def test_refining_every_cell_of_a_local_model_without_calibration_equals_the_fine_pass() -> None:
    net = conv_net()  # receptive field 5×5: a context of 2 px makes every cell exact
    c2f = CoarseToFine(brightness, net, patch_px=16, top_k=100, context_px=2, calibrate="none")
    x = torch.randn(1, 3, 37, 50)
    res = c2f.run(x, count_macs=False)
    torch.testing.assert_close(res.map, net(x), atol=1e-5, rtol=1e-5)
    assert res.report.refined_area_fraction == pytest.approx(1.0)


def test_mass_calibration_keeps_the_coarse_mass_of_each_refined_cell() -> None:
    fine = log_density_model(conv_net(1))
    coarse = log_density_model(conv_net(2))
    c2f = CoarseToFine(coarse, fine, patch_px=16, top_k=2, context_px=4, log_density=True)
    x = torch.randn(1, 3, 48, 64)
    res = c2f.run(x, count_macs=False)
    cm = c2f.coarse_map(x).exp()
    cm = cm / cm.sum()  # the upsampled coarse density is re-normalised with the result
    p = res.map.exp()
    torch.testing.assert_close(p.sum(), torch.tensor(1.0))
    for y0, x0, y1, x1 in res.report.boxes[0]:
        torch.testing.assert_close(p[..., y0:y1, x0:x1].sum(), cm[..., y0:y1, x0:x1].sum(), atol=1e-5, rtol=1e-4)
    # outside the refined cells the coarse map is kept
    mask = torch.ones_like(p, dtype=torch.bool)
    for y0, x0, y1, x1 in res.report.boxes[0]:
        mask[..., y0:y1, x0:x1] = False
    torch.testing.assert_close(p[mask], cm[mask], atol=1e-7, rtol=1e-5)


def test_multiply_adds_follow_the_pixel_counts_of_each_pass() -> None:
    net = conv_net()
    macs_per_px = 3 * 8 * 9 + 8 * 1 * 9  # conv MACs per output pixel
    c2f = CoarseToFine(net, net, coarse_scale=0.25, patch_px=16, top_k=2, context_px=4, calibrate="none")
    x = torch.randn(1, 3, 64, 96)
    rep = c2f.run(x).report
    assert rep.full_fine_macs == macs_per_px * 64 * 96
    assert rep.coarse_macs == macs_per_px * 16 * 24
    assert rep.fine_patch_macs == macs_per_px * 2 * 24 * 24
    expected = 1 - (16 * 24 + 2 * 24 * 24) / (64 * 96)
    assert rep.macs_saved_fraction == pytest.approx(expected)
    assert rep.full_fine_time_s > 0 and rep.coarse_time_s > 0
    d = rep.to_dict()
    assert {"macs_saved_fraction", "cc", "kl", "boxes", "time_saved_fraction"} <= set(d)


def test_works_on_images_smaller_than_a_cell_and_batches() -> None:
    fine = log_density_model(conv_net())
    c2f = CoarseToFine(fine, fine, patch_px=64, top_k=3, log_density=True)
    x = torch.randn(3, 3, 9, 13)
    out = c2f(x)
    assert out.shape == (3, 1, 9, 13)
    torch.testing.assert_close(out.exp().sum(dim=(2, 3)), torch.ones(3, 1))


def test_cc_and_kl_follow_the_mit_definitions() -> None:
    a = torch.rand(2, 1, 5, 6)
    assert correlation_coefficient(a, a).tolist() == pytest.approx([1.0, 1.0])
    assert correlation_coefficient(a, -a).tolist() == pytest.approx([-1.0, -1.0])
    assert kl_divergence(a, a).tolist() == pytest.approx([0.0, 0.0], abs=1e-12)
    q = torch.tensor([[[[0.5, 0.5]]]])
    p = torch.tensor([[[[0.25, 0.75]]]])
    expected = 0.5 * math.log(2.0) + 0.5 * math.log(2 / 3)
    assert kl_divergence(q, p).item() == pytest.approx(expected, rel=1e-6)
    assert F.relu(kl_divergence(q, p)).item() > 0


def test_modules_are_registered_so_eval_reaches_them() -> None:
    net = conv_net().train()
    c2f = CoarseToFine(net, net)
    c2f.eval()
    assert not net.training


def _dog_log_density(t: torch.Tensor) -> torch.Tensor:
    """Centre-surround colour contrast (difference of Gaussians, σ 1/6 px), as a log-density."""
    def blur(x: torch.Tensor, s: float) -> torch.Tensor:
        r = int(3 * s)
        k = torch.exp(-torch.arange(-r, r + 1.0) ** 2 / (2 * s * s))
        k = (k / k.sum()).view(1, 1, 1, -1).expand(x.shape[1], 1, 1, -1)
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k, groups=x.shape[1])
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=x.shape[1])

    b, _, h, w = t.shape
    c = (blur(t, 1.0) - blur(t, 6.0)).square().sum(1, keepdim=True)
    return torch.log(c + 1e-6).reshape(b, -1).log_softmax(-1).reshape(b, 1, h, w)


def test_report_on_a_real_stimulus_is_consistent(datasets_dir) -> None:
    import numpy as np
    from PIL import Image

    path = sorted((datasets_dir / "osie" / "stimuli").glob("*.jpg"))[0]
    img = Image.open(path).convert("RGB").resize((200, 150), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    c2f = CoarseToFine(_dog_log_density, _dog_log_density, coarse_scale=0.5, patch_px=32, top_k=4,
                       context_px=8, log_density=True)
    res = c2f.run(x)
    rep = res.report
    torch.testing.assert_close(res.map.exp().sum(), torch.tensor(1.0))
    assert 0 < rep.macs_saved_fraction < 1
    assert rep.coarse_macs < rep.full_fine_macs
    assert -1 <= rep.cc <= 1 and rep.kl >= 0
    assert len(rep.boxes[0]) == 4
    # the refined cells are the most contrasted ones of the coarse map
    coarse = c2f.coarse_map(x).exp()
    best = max(rep.boxes[0], key=lambda b: coarse[..., b[0]:b[2], b[1]:b[3]].mean())
    assert coarse[..., best[0]:best[2], best[1]:best[3]].mean() >= coarse.mean()
