"""Every registered block is shape-preserving, any size, batch 1, deterministic, trainable,
exportable to ONNX with dynamic H/W (legacy TorchScript exporter; onnxscript is not installed)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from saliency.models.blocks import BLOCKS, build_block

C = 8
NAMES = BLOCKS.names()
EXPECTED = {"se", "eca", "cbam", "non_local", "sagan", "mhsa", "swin", "axial", "sk", "residual_attention"}
#: blocks documented to be exactly the identity at initialisation (output == input)
EXACT_IDENTITY = {"non_local", "sagan", "sk"}
#: blocks documented to be a near-identity (LayerScale 1e-3 on the residual branches)
NEAR_IDENTITY = {"mhsa", "swin", "axial"}


def make(name: str, **kw) -> nn.Module:
    torch.manual_seed(0)
    return BLOCKS.get(name)(C, **kw)


def test_registry_holds_every_contract_name() -> None:
    assert EXPECTED <= set(NAMES)


def test_build_block_none_is_identity() -> None:
    assert isinstance(build_block(None, 8), nn.Identity)
    assert isinstance(build_block("none", 8), nn.Identity)


def test_unknown_block_lists_known_names() -> None:
    from saliency.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="se"):
        build_block("nope", 8)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1, C, 7, 9), (2, C, 13, 17), (1, C, 1, 1), (1, C, 1, 10), (2, C, 8, 8)])
def test_block_preserves_shape_at_any_size(name: str, shape: tuple[int, ...]) -> None:
    block = make(name).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = block(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_block_trains_at_batch_one(name: str) -> None:
    block = make(name).train()
    x = torch.randn(1, C, 5, 6, requires_grad=True)
    block(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_block_records_detached_attention(name: str) -> None:
    block = make(name).eval()
    x = torch.randn(2, C, 7, 9)
    block(x)
    att = block.attention
    assert isinstance(att, torch.Tensor)
    assert not att.requires_grad
    assert att.shape[0] == 2
    assert torch.isfinite(att).all()


@pytest.mark.parametrize("name", NAMES)
def test_block_is_deterministic_in_eval(name: str) -> None:
    block = make(name).eval()
    x = torch.randn(2, C, 9, 11)
    with torch.no_grad():
        assert torch.equal(block(x), block(x))


@pytest.mark.parametrize("name", NAMES)
def test_block_treats_batch_items_independently_in_eval(name: str) -> None:
    block = _perturbed(make(name)).eval()
    x = torch.randn(3, C, 6, 7)
    with torch.no_grad():
        full = block(x)
        single = block(x[1:2])
    torch.testing.assert_close(full[1:2], single, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(EXACT_IDENTITY))
def test_block_is_exact_identity_at_init(name: str) -> None:
    block = make(name)
    x = torch.randn(2, C, 7, 9)
    for mode in (block.train(), block.eval()):
        with torch.no_grad():
            torch.testing.assert_close(mode(x), x, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted(NEAR_IDENTITY))
def test_block_is_near_identity_at_init(name: str) -> None:
    block = make(name).eval()
    x = torch.randn(2, C, 7, 9)
    with torch.no_grad():
        y = block(x)
    rel = ((y - x).norm() / x.norm()).item()
    assert 0 < rel < 2e-2


@pytest.mark.parametrize("name", sorted(NEAR_IDENTITY))
def test_block_without_layer_scale_is_not_identity(name: str) -> None:
    block = make(name, layer_scale=None).eval()
    x = torch.randn(2, C, 7, 9)
    with torch.no_grad():
        assert ((block(x) - x).norm() / x.norm()).item() > 0.05


def _perturbed(block: nn.Module, scale: float = 0.2) -> nn.Module:
    """Move zero-initialised parameters (γ, LayerScale, zero BN/conv) away from zero."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return block


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name: str) -> None:
    block = _perturbed(make(name)).train()
    x = torch.randn(2, C, 7, 9)
    # a non-symmetric loss so that no gradient cancels by construction
    w = torch.randn(2, C, 7, 9, generator=torch.Generator().manual_seed(2))
    (block(x) * w).sum().backward()
    for pname, p in block.named_parameters():
        assert p.grad is not None, f"{name}.{pname} got no gradient"
        assert p.grad.abs().sum() > 0, f"{name}.{pname} got an all-zero gradient"


@pytest.mark.parametrize("name", NAMES)
def test_training_from_init_leaves_identity_and_reaches_every_parameter(name: str) -> None:
    """Zero-initialised gates are not stuck: a few SGD steps from the published init make every parameter
    receive gradient (gates open first, then the layers behind them)."""
    block = make(name).train()
    opt = torch.optim.SGD(block.parameters(), lr=0.01)
    x = torch.randn(2, C, 5, 6)
    w = torch.randn(2, C, 5, 6, generator=torch.Generator().manual_seed(2))
    for _ in range(3):
        opt.zero_grad()
        (block(x) * w).sum().backward()
        opt.step()
    opt.zero_grad()
    (block(x) * w).sum().backward()
    for pname, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}.{pname} is stuck"


@pytest.mark.parametrize("name", NAMES)
def test_block_exports_to_onnx_with_dynamic_size(name: str, onnx_roundtrip) -> None:
    block = _perturbed(make(name))
    onnx_roundtrip(block, (torch.randn(1, C, 8, 10),),
                   [(torch.randn(2, C, 13, 17),), (torch.randn(1, C, 7, 9),), (torch.randn(1, C, 1, 1),)])


@given(name=st.sampled_from(NAMES), h=st.integers(1, 16), w=st.integers(1, 16), b=st.integers(1, 2))
@settings(max_examples=40, deadline=None)
def test_any_block_any_size_property(name: str, h: int, w: int, b: int) -> None:
    block = _BUILT.setdefault(name, _perturbed(make(name)).eval())
    x = torch.randn(b, C, h, w)
    with torch.no_grad():
        y = block(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


_BUILT: dict[str, nn.Module] = {}


@pytest.mark.parametrize("name", ["non_local", "sagan", "mhsa", "swin", "axial"])
def test_fused_attention_path_exports_to_onnx(name: str, onnx_roundtrip) -> None:
    block = _perturbed(make(name, record_attention=False))
    onnx_roundtrip(block, (torch.randn(1, C, 8, 10),), [(torch.randn(2, C, 13, 17),), (torch.randn(1, C, 1, 1),)])


@pytest.mark.parametrize("name", NAMES)
def test_block_gives_the_same_result_in_channels_last_memory_format(name: str) -> None:
    """The model runs its conv path channels-last; blocks must not depend on the memory layout."""
    block = _perturbed(make(name)).eval()
    x = torch.randn(2, C, 7, 9)
    with torch.no_grad():
        ref = block(x)
        block_cl = block.to(memory_format=torch.channels_last)
        out = block_cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_traced_block_runs_at_other_sizes(name: str) -> None:
    """``torch.jit.trace`` (used by the TorchScript export of the models) records the size arithmetic."""
    import warnings

    block = _perturbed(make(name)).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(block, torch.randn(1, C, 8, 10), check_trace=False)
    for shape in [(2, C, 13, 17), (1, C, 7, 9), (1, C, 1, 1)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            torch.testing.assert_close(traced(x), block(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_block_runs_in_bfloat16(name: str) -> None:
    """Masks, positional encodings and grids follow the input dtype (mask value −1e4 fits bf16/fp16)."""
    block = _perturbed(make(name)).eval()
    x = torch.randn(1, C, 9, 11)
    with torch.no_grad():
        ref = block(x)
        out = block.to(torch.bfloat16)(x.bfloat16())
    assert out.dtype == torch.bfloat16
    assert ((out.float() - ref).abs().max() / ref.abs().max()).item() < 3e-2
