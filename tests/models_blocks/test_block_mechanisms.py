"""Mechanism-specific behaviour of the registered blocks (formulas, masks, maps, fused-kernel equality)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency.models.blocks import BLOCKS, eca_kernel_size, sincos_2d
from saliency.models.blocks.swin import WindowAttention, relative_position_index

C = 16


def perturb(block: torch.nn.Module, scale: float = 0.2) -> torch.nn.Module:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return block


def test_eca_kernel_size_follows_the_paper_table() -> None:
    # ECA-Net eq. 12 with γ=2, b=1: C=64 → 3 (ResNet stage 1 uses k=3), C=2048 → 7
    assert [eca_kernel_size(c) for c in (16, 64, 256, 512, 1024, 2048)] == [3, 3, 5, 5, 5, 7]
    assert BLOCKS.get("eca")(2048).conv.kernel_size == (7,)


def test_se_hidden_width_has_a_floor_and_reduction_16() -> None:
    assert BLOCKS.get("se")(512).fc1.out_channels == 32
    assert BLOCKS.get("se")(16).fc1.out_channels == 8


@pytest.mark.parametrize("name", ["se", "eca"])
def test_channel_gates_scale_each_channel_by_its_weight(name: str) -> None:
    block = BLOCKS.get(name)(C).eval()
    x = torch.randn(2, C, 5, 7)
    y = block(x)
    a = block.attention
    assert a.shape == (2, C, 1, 1)
    assert ((a > 0) & (a < 1)).all()
    torch.testing.assert_close(y, x * a)


def test_cbam_spatial_map_is_sigmoid_of_7x7_conv_over_channel_mean_and_max() -> None:
    block = BLOCKS.get("cbam")(C).eval()
    x = torch.randn(1, C, 9, 11)
    y = block(x)
    xc = x * block.channel_attention
    desc = torch.cat([xc.mean(1, keepdim=True), xc.amax(1, keepdim=True)], dim=1)
    expected = F.conv2d(desc, block.spatial.weight, padding=3).sigmoid()
    torch.testing.assert_close(block.attention, expected)
    torch.testing.assert_close(y, xc * expected)
    assert block.spatial.kernel_size == (7, 7)


@pytest.mark.parametrize("name", ["non_local", "sagan", "mhsa"])
def test_global_attention_map_is_a_distribution_over_positions(name: str) -> None:
    block = perturb(BLOCKS.get(name)(C)).eval()
    block(torch.randn(2, C, 6, 7))
    a = block.attention
    assert a.shape == (2, 1, 6, 7)
    torch.testing.assert_close(a.sum(dim=(2, 3)), torch.ones(2, 1))


def test_non_local_matches_the_embedded_gaussian_formula() -> None:
    block = perturb(BLOCKS.get("non_local")(C)).eval()
    x = torch.randn(1, C, 4, 5)
    theta = block.theta(x).flatten(2)  # (1, C/2, N)
    phi = block.phi(x).flatten(2)
    g = block.g(x).flatten(2)
    f = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (1, N, N), no 1/√d
    y = (f @ g.transpose(1, 2)).transpose(1, 2).reshape(1, C // 2, 4, 5)
    torch.testing.assert_close(block(x), x + block.norm(block.w_z(y)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,kw", [("non_local", {}), ("sagan", {}), ("mhsa", {}), ("mhsa", {"mode": "window"}),
                                     ("mhsa", {"mode": "axial"}), ("swin", {}), ("axial", {})])
def test_fused_sdpa_path_equals_the_explicit_softmax_path(name: str, kw: dict) -> None:
    torch.manual_seed(0)
    block = perturb(BLOCKS.get(name)(C, **kw)).eval()
    x = torch.randn(2, C, 9, 10)
    with torch.no_grad():
        explicit = block(x)
        for m in block.modules():
            if hasattr(m, "record_attention"):
                m.record_attention = False
        fused = block(x)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pos", ["cpe", "sincos", "none"])
@pytest.mark.parametrize("mode", ["global", "window", "axial"])
def test_mhsa_modes_and_positional_encodings_work_at_any_size(mode: str, pos: str) -> None:
    block = perturb(BLOCKS.get("mhsa")(C, mode=mode, pos=pos)).eval()
    for shape in [(1, C, 1, 1), (2, C, 7, 9), (1, C, 15, 4)]:
        x = torch.randn(*shape)
        assert block(x).shape == shape
        assert block.attention.shape == (shape[0], 1, *shape[2:])


@given(h=st.integers(1, 12), w=st.integers(1, 12), c=st.integers(4, 24))
@settings(max_examples=30, deadline=None)
def test_sincos_encoding_is_bounded_and_distinguishes_positions(h: int, w: int, c: int) -> None:
    pe = sincos_2d(h, w, c)
    assert pe.shape == (h, w, c)
    assert pe.abs().max() <= 1.0
    flat = pe.reshape(h * w, c)
    if h * w > 1:
        dists = torch.cdist(flat, flat) + torch.eye(h * w) * 10
        assert dists.min() > 1e-3  # every position gets a distinct code


def test_swin_relative_position_table_has_2w_minus_1_squared_entries() -> None:
    block = BLOCKS.get("swin")(C)
    assert block.regular.mixer.bias_table.shape[0] == (2 * 7 - 1) ** 2
    assert block.shifted.mixer.shift == 3 and block.regular.mixer.shift == 0
    idx = relative_position_index(7)
    assert idx.shape == (49, 49) and idx.min() == 0 and idx.max() == 168
    assert (idx.diagonal() == 84).all()  # zero offset is the centre entry (6·13 + 6)


def _influence(mixer: WindowAttention, h: int, w: int, src: tuple[int, int]) -> torch.Tensor:
    """Which outputs change when one input position changes → (H, W) of |Δ out| summed over channels.
    Masked pairs get exactly zero weight (exp(−1e4) underflows to 0 in float32), so Δ is exactly 0 there."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, h, w, C, generator=g)
    x2 = x.clone()
    x2[0, src[0], src[1]] += torch.randn(C, generator=g)
    with torch.no_grad():
        return (mixer(x2) - mixer(x)).abs().sum(-1)[0]


def test_regular_windows_do_not_mix_across_window_borders() -> None:
    mixer = perturb(WindowAttention(C, 2, window=7, shift=0)).eval()
    reach = _influence(mixer, 14, 10, src=(0, 0))
    assert (reach[:7, :7] > 0).all()
    assert (reach[7:, :] == 0).all() and (reach[:, 7:] == 0).all()


def test_shifted_windows_mask_out_positions_brought_together_by_the_roll() -> None:
    # 14×14, w=7, s=3: after the cyclic roll the window at the bottom-right corner holds the image's
    # top/left border positions next to bottom/right ones; the mask must keep them apart.
    mixer = perturb(WindowAttention(C, 2, window=7, shift=3)).eval()
    reach = _influence(mixer, 14, 14, src=(0, 0))
    assert reach[0, 0] > 0 and reach[2, 2] > 0  # same (wrapped) region: rows/cols 0..2
    assert reach[13, 13] == 0 and reach[10, 10] == 0 and reach[0, 13] == 0 and reach[13, 0] == 0
    assert (reach[3:, :] == 0).all() and (reach[:, 3:] == 0).all()
    # an interior position sees its whole shifted window: rows/cols 3..9
    reach = _influence(mixer, 14, 14, src=(5, 5))
    assert (reach[3:10, 3:10] > 0).all()
    assert reach[:3].sum() == 0 and reach[10:].sum() == 0


def test_window_padding_does_not_leak_into_the_result() -> None:
    # padded positions are masked as keys: a 5×6 map gives the same outputs as computing each window
    # with plain (unpadded) attention over its real positions plus the relative bias.
    mixer = perturb(WindowAttention(C, 2, window=7, shift=0)).eval()
    x = torch.randn(1, 5, 6, C)
    out = mixer(x)
    n = 5 * 6
    qkv = mixer.qkv(x.reshape(1, n, C)).reshape(1, n, 3, 2, C // 2).permute(2, 0, 3, 1, 4)
    coords = [(i, j) for i in range(5) for j in range(6)]
    idx = torch.tensor([[(a[0] - b[0] + 6) * 13 + (a[1] - b[1] + 6) for b in coords] for a in coords])
    bias = mixer.bias_table[idx].permute(2, 0, 1)
    att = ((qkv[0] @ qkv[1].transpose(-2, -1)) / (C // 2) ** 0.5 + bias).softmax(-1)
    ref = mixer.proj((att @ qkv[2]).transpose(1, 2).reshape(1, n, C)).reshape(1, 5, 6, C)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_swin_window_attention_map_sums_to_one_per_window() -> None:
    block = perturb(BLOCKS.get("swin")(C)).eval()
    block(torch.randn(1, C, 14, 7))
    a = block.regular.attention
    assert a.shape == (1, 1, 14, 7)
    torch.testing.assert_close(a[..., :7, :].sum(), torch.tensor(1.0))
    torch.testing.assert_close(a[..., 7:, :].sum(), torch.tensor(1.0))


def test_axial_attention_map_sums_to_one_along_each_row_and_column() -> None:
    block = perturb(BLOCKS.get("axial")(C)).eval()
    block(torch.randn(2, C, 5, 8))
    mixer = block.mixer
    # mean of a row-stochastic and a column-stochastic map: total mass (H + W) / 2
    torch.testing.assert_close(mixer.attention.sum(dim=(2, 3)), torch.full((2, 1), (5 + 8) / 2))


def test_sk_branch_weights_are_a_softmax_over_two_branches_with_dilations_1_and_2() -> None:
    block = BLOCKS.get("sk")(C).eval()
    block(torch.randn(2, C, 6, 6))
    assert block.attention.shape == (2, 2, C)
    torch.testing.assert_close(block.attention.sum(1), torch.ones(2, C))
    assert [b[0].dilation for b in block.branches] == [(1, 1), (2, 2)]


def test_residual_attention_is_exactly_1_5x_at_init_and_applies_1_plus_mask() -> None:
    block = BLOCKS.get("residual_attention")(C).eval()
    x = torch.randn(1, C, 9, 7)
    torch.testing.assert_close(block(x), 1.5 * x)
    perturb(block)
    y = block(x)
    m = block.mask_head(block.hourglass(x)).sigmoid()
    torch.testing.assert_close(y, (1 + m) * block.trunk(x))
    assert ((block.attention > 0) & (block.attention < 1)).all()


def test_residual_attention_mask_bias_sets_the_initial_gain() -> None:
    block = BLOCKS.get("residual_attention")(C, mask_bias=-4.0).eval()
    x = torch.randn(1, C, 5, 6)
    torch.testing.assert_close(block(x), (1 + torch.sigmoid(torch.tensor(-4.0))) * x)


def test_residual_attention_modules_stack() -> None:
    stack = torch.nn.Sequential(*[BLOCKS.get("residual_attention")(C, depth=d) for d in (1, 2, 3)]).eval()
    x = torch.randn(1, C, 13, 17)
    torch.testing.assert_close(stack(x), 1.5**3 * x)


def test_sagan_gamma_starts_at_zero_and_query_key_width_is_c_over_8() -> None:
    block = BLOCKS.get("sagan")(64)
    assert block.gamma.item() == 0.0
    assert block.f.out_channels == 8 and block.g.out_channels == 8 and block.h.out_channels == 64


@pytest.mark.parametrize("name", ["non_local", "sagan", "mhsa", "swin", "axial"])
def test_attention_maps_are_recorded_in_eval_and_skipped_in_training_by_default(name: str) -> None:
    block = BLOCKS.get(name)(C)
    x = torch.randn(2, C, 6, 7)
    block.train()(x)
    assert block.attention is None  # fused SDPA path in training
    block.eval()(x)
    assert block.attention is not None and block.attention.shape == (2, 1, 6, 7)
    block.train()(x)
    assert block.attention is None  # cleared, never a stale map from an earlier input
    forced = BLOCKS.get(name)(C, record_attention=True).train()
    forced(x)
    assert forced.attention is not None


def test_block_cost_counts_multiply_adds_of_the_convolutions() -> None:
    from saliency.models.blocks.cost import block_cost

    r = block_cost("se", 32, 5, 6)
    # SE MACs: two 1×1 convs on the pooled vector: 32·8 + 8·32 (elementwise gating is not counted)
    assert r["macs"] == 32 * 8 + 8 * 32
    assert r["params"] == 32 * 8 + 8 + 8 * 32 + 32


def _may_interact(a: tuple[int, int], b: tuple[int, int], hp: int, wp: int, win: int, s: int) -> bool:
    """Independent statement of shifted-window attention: after rolling by −s, two positions interact iff
    they fall in the same window and the roll kept their offset (neither or both wrapped), per axis."""
    for ia, ib, n in ((a[0], b[0], hp), (a[1], b[1], wp)):
        ra, rb = (ia - s) % n, (ib - s) % n
        if ra // win != rb // win or ra - rb != ia - ib:
            return False
    return True


@given(h=st.integers(1, 13), w=st.integers(1, 13), shift=st.integers(0, 3), data=st.data())
@settings(max_examples=40, deadline=None)
def test_window_attention_reaches_exactly_the_allowed_positions(h: int, w: int, shift: int, data) -> None:
    win = 4
    torch.manual_seed(0)
    mixer = perturb(WindowAttention(C, 2, window=win, shift=shift)).eval()
    src = (data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1)))
    reach = _influence(mixer, h, w, src)
    hp, wp = -(-h // win) * win, -(-w // win) * win
    for i in range(h):
        for j in range(w):
            allowed = _may_interact((i, j), src, hp, wp, win, shift)
            assert (reach[i, j] > 0) == allowed, (i, j, src, reach[i, j].item())
