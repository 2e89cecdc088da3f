"""The three mechanisms that join the ablation as ModelConfig options: global context from additive
attention pooling, recurrent ConvGRU refinement, coarse-to-fine (dynamic capacity) inference."""

from __future__ import annotations

import pytest
import torch

from saliency.errors import ConfigError
from saliency.models import build_model

SMALL = {"encoder": "resnet", "encoder_width": 0.25, "decoder_channels": [32, 16], "n_priors": 2}


def _pair(**option):
    torch.manual_seed(0)
    plain = build_model("resnet", pretrained=False, **SMALL).eval()
    torch.manual_seed(0)
    other = build_model("resnet", pretrained=False, **SMALL, **option).eval()
    missing, unexpected = other.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected
    return plain, other, missing


@pytest.mark.parametrize("option", [{"global_context": True}, {"refine_steps": 2}])
def test_zero_initialised_mechanism_starts_as_the_plain_network(option):
    plain, other, missing = _pair(**option)
    assert missing, "the mechanism adds parameters"
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(other(x), plain(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("option", [{"global_context": True}, {"refine_steps": 2}])
def test_mechanism_parameters_receive_gradient(option):
    net = build_model("resnet", pretrained=False, **SMALL, **option).train()
    out = net(torch.randn(2, 3, 64, 96))
    (out[:, :, :16, :16].exp().sum()).backward()
    part = net.context if "global_context" in option else net.refiner
    grads = [p.grad for p in part.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_coarse_to_fine_inference_is_a_log_density_and_training_is_dense():
    plain, c2f, missing = _pair(coarse_to_fine=True)
    assert not missing  # an inference procedure: no parameters of its own
    x = torch.randn(1, 3, 128, 192)
    with torch.no_grad():
        out = c2f(x)
        dense = plain(x)
    assert out.shape == dense.shape == (1, 1, 128, 192)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.exp().sum(), torch.tensor(1.0), rtol=0, atol=1e-4)
    assert not torch.allclose(out, dense)       # coarse pass + refined cells differ from one dense pass
    c2f.train()
    torch.testing.assert_close(c2f(x), plain.train()(x), rtol=0, atol=1e-5)


def test_negative_refine_steps_is_a_config_error():
    with pytest.raises(ConfigError, match="refine_steps"):
        build_model("resnet", pretrained=False, refine_steps=-1)
