"""SpatialTransformer, MultiScaleAttentionFusion and AdditiveAttentionPool."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from saliency.models.blocks import (
    AdditiveAttentionPool,
    AttentionPoolClassifier,
    MultiScaleAttentionFusion,
    SpatialTransformer,
    affine_grid,
    invert_affine,
)


def perturb(module: nn.Module, scale: float = 0.2) -> nn.Module:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return module


def all_params_get_gradients(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"


# --- SpatialTransformer -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 7, 9), (2, 3, 13, 17), (1, 3, 1, 1), (1, 3, 32, 48)])
def test_stn_is_the_identity_warp_at_init(shape: tuple[int, ...]) -> None:
    stn = SpatialTransformer()
    x = torch.randn(*shape)
    torch.testing.assert_close(stn(x), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(stn.theta, torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(shape[0], 2, 3))


@pytest.mark.parametrize("size", [(7, 9), (1, 1), (16, 5)])
def test_affine_grid_matches_torch(size: tuple[int, int]) -> None:
    theta = torch.randn(3, 2, 3)
    ref = F.affine_grid(theta, (3, 1, *size), align_corners=False)
    torch.testing.assert_close(affine_grid(theta, *size), ref, atol=1e-6, rtol=1e-6)


def test_invert_affine_composes_to_identity() -> None:
    theta = torch.randn(4, 2, 3)
    inv = invert_affine(theta)
    full = torch.cat([theta, torch.tensor([0.0, 0, 1]).expand(4, 1, 3)], 1)
    full_inv = torch.cat([inv, torch.tensor([0.0, 0, 1]).expand(4, 1, 3)], 1)
    torch.testing.assert_close(full @ full_inv, torch.eye(3).expand(4, 3, 3), atol=1e-4, rtol=1e-4)


def test_stn_translation_moves_content_and_warp_back_undoes_it() -> None:
    stn = SpatialTransformer()
    with torch.no_grad():  # θ = sample at x + 0.5 (normalised): content shifts left by W/4 pixels
        stn.localisation[-1].bias.copy_(torch.tensor([1.0, 0, 0.5, 0, 1, 0]))
    x = torch.zeros(1, 1, 8, 16)
    x[..., 10] = 1.0
    stn_1 = SpatialTransformer(in_channels=1)
    stn_1.load_state_dict(stn.state_dict() | {"localisation.0.weight": stn_1.localisation[0].weight})
    y = stn_1(x)
    assert y[0, 0, 0].argmax() == 6
    back = stn_1.warp_back(y)
    torch.testing.assert_close(back[..., 2:14], x[..., 2:14], atol=1e-5, rtol=0)


def test_stn_gradients_reach_every_parameter() -> None:
    stn = perturb(SpatialTransformer(), 0.05)
    x = torch.randn(2, 3, 20, 24)
    (stn(x) * torch.randn(2, 3, 20, 24)).sum().backward()
    all_params_get_gradients(stn)


def test_stn_exports_to_onnx(onnx_roundtrip) -> None:
    stn = perturb(SpatialTransformer(), 0.02)
    onnx_roundtrip(stn, (torch.randn(1, 3, 24, 32),), [(torch.randn(2, 3, 13, 17),), (torch.randn(1, 3, 7, 9),)])


# --- MultiScaleAttentionFusion -------------------------------------------------------------------------

def pyramid(b: int = 2, h: int = 13, w: int = 17) -> list[torch.Tensor]:
    return [torch.randn(b, 8, h, w), torch.randn(b, 16, math.ceil(h / 2), math.ceil(w / 2)),
            torch.randn(b, 32, math.ceil(h / 4), math.ceil(w / 4))]


def test_fusion_weights_are_a_softmax_over_scales_per_location() -> None:
    fusion = perturb(MultiScaleAttentionFusion([8, 16, 32], 8)).eval()
    out = fusion(pyramid())
    assert out.shape == (2, 8, 13, 17)
    assert fusion.attention.shape == (2, 3, 13, 17)
    torch.testing.assert_close(fusion.attention.sum(1), torch.ones(2, 13, 17))


def test_fusion_starts_uniform_and_is_a_convex_combination() -> None:
    fusion = MultiScaleAttentionFusion([8, 8, 8], 8, project=False)
    f = torch.randn(1, 8, 6, 7)
    feats = [f, f.clone(), f.clone()]
    torch.testing.assert_close(fusion(feats), f)  # identical inputs → the same map whatever the weights
    torch.testing.assert_close(fusion.attention, torch.full((1, 3, 6, 7), 1 / 3))
    perturb(fusion)
    a, b = torch.randn(1, 8, 6, 7), torch.randn(1, 8, 6, 7)
    out = fusion([a, b, b])
    w = fusion.attention
    torch.testing.assert_close(out, w[:, :1] * a + (w[:, 1:2] + w[:, 2:3]) * b)


def test_fusion_can_target_a_given_size_and_tiny_maps() -> None:
    fusion = MultiScaleAttentionFusion([4, 4], 4)
    out = fusion([torch.randn(1, 4, 1, 1), torch.randn(1, 4, 1, 1)], size=(5, 3))
    assert out.shape == (1, 4, 5, 3)
    with pytest.raises(ValueError, match="expected 2"):
        fusion([torch.randn(1, 4, 2, 2)])


def test_fusion_gradients_reach_every_parameter() -> None:
    fusion = perturb(MultiScaleAttentionFusion([8, 16, 32], 8))
    (fusion(pyramid()) * torch.randn(2, 8, 13, 17)).sum().backward()
    all_params_get_gradients(fusion)


class _FusionWrapper(nn.Module):
    def __init__(self, fusion: MultiScaleAttentionFusion) -> None:
        super().__init__()
        self.fusion = fusion

    def forward(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.fusion([a, b, c])


def test_fusion_exports_to_onnx(onnx_roundtrip) -> None:
    wrapper = _FusionWrapper(perturb(MultiScaleAttentionFusion([8, 16, 32], 8)))
    onnx_roundtrip(wrapper, tuple(pyramid(1, 16, 20)), [tuple(pyramid(2, 13, 17)), tuple(pyramid(1, 5, 3))])


# --- AdditiveAttentionPool -----------------------------------------------------------------------------

def test_pool_starts_as_global_average_pooling() -> None:
    pool = AdditiveAttentionPool(8)
    x = torch.randn(2, 8, 5, 7)
    pooled, alpha = pool(x)
    torch.testing.assert_close(pooled, x.mean(dim=(2, 3)))
    torch.testing.assert_close(alpha, torch.full((2, 1, 5, 7), 1 / 35))


@pytest.mark.parametrize("shape", [(1, 8, 1, 1), (2, 8, 7, 9), (1, 8, 13, 17)])
def test_pool_is_the_bahdanau_weighted_sum(shape: tuple[int, ...]) -> None:
    pool = perturb(AdditiveAttentionPool(8, hidden=6))
    x = torch.randn(*shape)
    pooled, alpha = pool(x)
    b, _, h, w = shape
    k = pool.key(x)
    e = (pool.score.weight.reshape(1, 6, 1, 1) * torch.tanh(k + pool.query[None, :, None, None])).sum(1)
    ref_alpha = e.reshape(b, -1).softmax(-1).reshape(b, 1, h, w)
    torch.testing.assert_close(alpha, ref_alpha)
    torch.testing.assert_close(pooled, (x * alpha).sum(dim=(2, 3)))
    torch.testing.assert_close(pool.attention, alpha.detach())


def test_pool_with_a_given_query_vector_follows_the_query() -> None:
    pool = perturb(AdditiveAttentionPool(8, query_dim=4))
    x = torch.randn(1, 8, 6, 6)
    _, a1 = pool(x, torch.randn(1, 4))
    _, a2 = pool(x, torch.randn(1, 4))
    assert not torch.allclose(a1, a2)
    with pytest.raises(ValueError, match="query"):
        pool(x)
    with pytest.raises(ValueError, match="learned query"):
        AdditiveAttentionPool(8)(x, torch.randn(1, 4))


def test_pool_classifier_learns_has_salient_object() -> None:
    # images with a bright blob somewhere vs. without: the attention head should separate them
    torch.manual_seed(0)
    head = AttentionPoolClassifier(4, num_classes=1, hidden=8)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)

    def batch(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, 4, 8, 8) * 0.3
        y = torch.randint(0, 2, (n,)).float()
        for i in range(n):
            if y[i]:
                r, c = torch.randint(0, 6, (2,)).tolist()
                x[i, :, r:r + 2, c:c + 2] += 3.0
        return x, y

    for _ in range(30):
        x, y = batch()
        loss = F.binary_cross_entropy_with_logits(head(x).squeeze(1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = batch(64)
    acc = ((head(x).squeeze(1) > 0).float() == y).float().mean()
    assert acc > 0.9
    assert head.attention.shape == (64, 1, 8, 8)


def test_pool_gradients_reach_every_parameter() -> None:
    pool = perturb(AdditiveAttentionPool(8, query_dim=3))
    pooled, _ = pool(torch.randn(2, 8, 5, 6), torch.randn(2, 3))
    (pooled * torch.randn(2, 8)).sum().backward()
    all_params_get_gradients(pool)


def test_pool_exports_to_onnx(onnx_roundtrip) -> None:
    pool = perturb(AdditiveAttentionPool(8))
    onnx_roundtrip(pool, (torch.randn(1, 8, 6, 7),), [(torch.randn(2, 8, 13, 17),), (torch.randn(1, 8, 1, 1),)],
                       n_outputs=2)
