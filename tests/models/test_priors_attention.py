"""Learned Gaussian priors (ranges, aspect-correct grid) and attention read-out."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency.models import attention_maps, build_model
from saliency.models.priors import MEAN_RANGE, SIGMA_RANGE, GaussianPriorBank


@settings(max_examples=25, deadline=None)
@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4))
def test_prior_means_and_widths_stay_in_range_whatever_the_raw_parameters(raw_mean, raw_sigma):
    bank = GaussianPriorBank(4)
    with torch.no_grad():
        bank.raw_mean.fill_(raw_mean)
        bank.raw_sigma.fill_(raw_sigma)
    assert ((bank.means >= MEAN_RANGE[0]) & (bank.means <= MEAN_RANGE[1])).all()
    assert ((bank.sigmas >= SIGMA_RANGE[0]) & (bank.sigmas <= SIGMA_RANGE[1])).all()
    maps = bank(torch.zeros(1, 1, 6, 8), (48, 64), 8)
    assert torch.isfinite(maps).all() and maps.max() <= 1


def test_prior_is_round_in_pixels_on_a_wide_image():
    """Equal σx, σy (in image heights) → equal widths in pixels, whatever the aspect ratio."""
    bank = GaussianPriorBank(1)
    with torch.no_grad():
        bank.raw_mean.zero_()   # sigmoid(0) = 0.5 → image centre
        bank.raw_sigma.fill_(-2.0)  # same σ both axes (0.16 image heights)
    height, width = 64, 256
    m = bank(torch.zeros(1, 1, height, width), (height, width), 1)[0, 0]
    row, col = m[height // 2], m[:, width // 2]
    # full width at half maximum, in pixels, along x and along y
    fwhm_x = int((row >= 0.5 * row.max()).sum())
    fwhm_y = int((col >= 0.5 * col.max()).sum())
    assert abs(fwhm_x - fwhm_y) <= 1
    peak = divmod(int(m.argmax()), width)
    assert abs(peak[0] - height / 2) <= 1 and abs(peak[1] - width / 2) <= 1


def test_prior_ignores_padding_canvas():
    """The grid is laid out in the real image's coordinates; the padded bottom/right is outside."""
    bank = GaussianPriorBank(1)
    with torch.no_grad():
        bank.raw_mean.zero_()
    padded = bank(torch.zeros(1, 1, 8, 8), (40, 40), 8)  # 64×64 canvas, 40×40 image
    exact = bank(torch.zeros(1, 1, 5, 5), (40, 40), 8)
    torch.testing.assert_close(padded[..., :5, :5], exact)


def test_priors_are_learned():
    model = build_model("resnet", n_priors=3)
    out = model(torch.randn(1, 3, 64, 64))
    out[..., :10, :10].mean().neg().backward()
    assert model.prior.raw_mean.grad.abs().sum() > 0
    assert model.prior.raw_sigma.grad.abs().sum() > 0


def test_attention_maps_reads_every_attention_block():
    model = build_model("effnet_lite0_cbam", pretrained=False, bottleneck="mhsa").eval()
    x = torch.randn(1, 3, 64, 96)
    maps = attention_maps(model, x)
    assert {"encoder.stage_blocks.2", "encoder.stage_blocks.3", "encoder.stage_blocks.4"} <= set(maps)
    assert any(k.startswith("decoder.bottleneck") for k in maps)
    for name, m in maps.items():
        assert isinstance(m, torch.Tensor) and not m.requires_grad, name
        assert m.shape[0] == 1
    # no leftover hooks: a plain forward afterwards records nothing new and works
    assert not any(mod._forward_hooks for mod in model.modules())


def test_attention_maps_is_empty_without_attention_blocks():
    model = build_model("resnet").eval()
    assert attention_maps(model, torch.randn(1, 3, 32, 32)) == {}


@pytest.mark.parametrize("name", ["effnet_lite0_nonlocal", "resnet_nonlocal"])
def test_non_local_attention_map_is_spatial(name):
    model = build_model(name, pretrained=False).eval()
    maps = attention_maps(model, torch.randn(1, 3, 64, 96))
    (m,) = [v for k, v in maps.items() if k.startswith("encoder.stage_blocks.3")]
    assert m.shape[-2:] == (4, 6)


def test_attention_maps_lists_a_re_exposed_map_once_under_the_block():
    """The transformer bottleneck re-exposes its mixer's map: one entry, named after the block."""
    model = build_model("effnet_lite0_mhsa", pretrained=False).eval()
    maps = attention_maps(model, torch.randn(1, 3, 64, 96))
    assert [k for k in maps if k.startswith("decoder.bottleneck")] == ["decoder.bottleneck"]
    torch.testing.assert_close(maps["decoder.bottleneck"].sum(dim=(2, 3)), torch.ones(1, 1))  # received attention
