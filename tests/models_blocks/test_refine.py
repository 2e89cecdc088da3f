"""ConvGRU recurrent refinement of saliency maps."""

from __future__ import annotations

import pytest
import torch

from saliency.models.refine import ConvGRUCell, RecurrentRefiner


def test_convgru_cell_interpolates_between_state_and_candidate() -> None:
    cell = ConvGRUCell(3, 4)
    x, h = torch.randn(2, 3, 5, 6), torch.randn(2, 4, 5, 6)
    with torch.no_grad():
        cell.gates.weight.zero_()
        cell.gates.bias.fill_(-30.0)  # z → 0: keep the state
    torch.testing.assert_close(cell(x, h), h, atol=1e-6, rtol=0)
    with torch.no_grad():
        cell.gates.bias.fill_(30.0)  # z → 1, r → 1: take the candidate
    cand = torch.tanh(cell.candidate(torch.cat([x, h], 1)))
    torch.testing.assert_close(cell(x, h), cand, atol=1e-6, rtol=0)


@pytest.mark.parametrize("log_density", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 7, 9), (2, 1, 13, 17), (1, 1, 1, 1)])
def test_refiner_leaves_the_map_unchanged_at_init(shape: tuple[int, ...], log_density: bool) -> None:
    refiner = RecurrentRefiner(8, hidden=6, steps=3, log_density=log_density)
    s = torch.randn(*shape)
    if log_density:
        s = s.flatten(1).log_softmax(-1).reshape(shape)
    out = refiner(s, torch.randn(shape[0], 8, 4, 5))
    torch.testing.assert_close(out, s, atol=1e-5, rtol=0)
    assert refiner.updates.shape == (shape[0], 3, *shape[2:])


def test_refiner_output_is_a_log_density_after_every_step() -> None:
    refiner = RecurrentRefiner(8, steps=2, log_density=True)
    with torch.no_grad():
        refiner.delta.weight.normal_(0, 0.5)
    s = torch.randn(2, 1, 9, 11).flatten(1).log_softmax(-1).reshape(2, 1, 9, 11)
    out = refiner(s, torch.randn(2, 8, 9, 11))
    torch.testing.assert_close(out.exp().sum(dim=(2, 3)), torch.ones(2, 1))
    assert not torch.allclose(out, s)


def test_steps_are_configurable_per_call_and_zero_steps_is_identity() -> None:
    refiner = RecurrentRefiner(4, steps=2)
    with torch.no_grad():
        refiner.delta.weight.normal_(0, 0.5)
    s, f = torch.randn(1, 1, 6, 6), torch.randn(1, 4, 3, 3)
    torch.testing.assert_close(refiner(s, f, steps=0), s)
    assert not torch.allclose(refiner(s, f, steps=1), refiner(s, f, steps=4))
    assert refiner.updates.shape[1] == 4
    with pytest.raises(ValueError, match="steps"):
        RecurrentRefiner(4, steps=-1)


def test_refiner_learns_to_sharpen_a_map_towards_a_target() -> None:
    """A few Adam steps reduce the error to a target that depends on the features (it really refines)."""
    torch.manual_seed(0)
    refiner = RecurrentRefiner(2, hidden=4, steps=2)
    opt = torch.optim.Adam(refiner.parameters(), lr=0.03)
    feats = torch.randn(2, 2, 6, 6)
    target = feats[:, :1] * 2.0
    start = torch.zeros(2, 1, 6, 6)
    first = None
    for _ in range(30):
        loss = (refiner(start, feats) - target).square().mean()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_gradients_reach_every_parameter_once_the_output_conv_moves() -> None:
    refiner = RecurrentRefiner(4, hidden=5, steps=2)
    s, f = torch.randn(2, 1, 6, 7), torch.randn(2, 4, 6, 7)
    (refiner(s, f) * torch.randn(2, 1, 6, 7)).sum().backward()
    assert refiner.delta.weight.grad.abs().sum() > 0  # the zero-initialised output conv learns at once
    with torch.no_grad():
        refiner.delta.weight.normal_(0, 0.1)
    refiner.zero_grad()
    (refiner(s, f) * torch.randn(2, 1, 6, 7)).sum().backward()
    for name, p in refiner.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


class _Wrapper(torch.nn.Module):
    def __init__(self, refiner: RecurrentRefiner) -> None:
        super().__init__()
        self.refiner = refiner

    def forward(self, s: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.refiner(s, f)


def test_refiner_exports_to_onnx(onnx_roundtrip) -> None:
    refiner = RecurrentRefiner(4, hidden=5, steps=2, log_density=True)
    with torch.no_grad():
        refiner.delta.weight.normal_(0, 0.1)
    onnx_roundtrip(_Wrapper(refiner).eval(), (torch.randn(1, 1, 8, 10), torch.randn(1, 4, 4, 5)),
                   [(torch.randn(2, 1, 13, 17), torch.randn(2, 4, 7, 9))])
