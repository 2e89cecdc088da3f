"""Every zoo entry honours the model contract (team brief §5): shapes, normalisation, determinism,
gradient flow, state-dict round trip, TOML-friendly configs."""

from __future__ import annotations

import tomllib

import pytest
import tomli_w
import torch

from saliency.errors import ConfigError, UnknownNameError
from saliency.models import (
    DEFAULT_FIXATION_MODEL,
    DEFAULT_SOD_MODEL,
    MODELS,
    ModelConfig,
    SaliencyNet,
    build_model,
    get_config,
)

ZOO = MODELS.names()


def _tiny(name: str) -> ModelConfig:
    """The zoo entry shrunk for fast tests (narrow decoder, narrow from-scratch encoders, no download)."""
    cfg = get_config(name, pretrained=False, decoder_channels=(16, 8), head_channels=4)
    if cfg.encoder in ("mobilenetv2", "resnet"):
        cfg = cfg.replace(encoder_width=0.25 if cfg.encoder == "mobilenetv2" else 0.125)
    return cfg


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 97, 131, generator=torch.Generator().manual_seed(0))


def test_zoo_lists_the_documented_combinations():
    for name in ("effnet_lite0", "effnet_lite0_noprior", "effnet_lite0_se", "effnet_lite0_cbam",
                 "effnet_lite0_nonlocal", "effnet_lite0_mhsa", "mobilenetv2", "resnet", "sod_effnet_lite0"):
        assert name in MODELS
    assert get_config(DEFAULT_FIXATION_MODEL).task == "fixation"
    assert get_config(DEFAULT_SOD_MODEL).task == "sod"
    assert get_config(DEFAULT_FIXATION_MODEL).pretrained


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_maps_odd_sized_images_to_same_size_output(name, images):
    model = build_model(_tiny(name)).eval()
    assert isinstance(model, SaliencyNet) and model.config.name == name
    with torch.no_grad():
        out = model(images)
        single = model(images[:1])
        again = model(images)
    assert out.shape == (2, 1, 97, 131) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    torch.testing.assert_close(single, out[:1], rtol=1e-4, atol=1e-4)   # batch 1, batch independence
    assert torch.equal(out, again)                                       # eval determinism
    if model.task == "fixation":
        mass = out.exp().sum(dim=(1, 2, 3))
        torch.testing.assert_close(mass, torch.ones(2), rtol=1e-5, atol=1e-5)
        assert (out <= 0).all()
    else:
        assert model.task == "sod"
        assert out.std() > 0  # logits, not a constant


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    model = build_model(_tiny(name)).train()
    with torch.no_grad():  # leave zero-initialised gates (non-local W, LayerScale, STN) so every path is live
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.randn(2, 3, 64, 96)
    out = model(x)
    loss = -(out[:, :, 20:40, 30:60]).mean() if model.task == "fixation" else out.sigmoid().mean()
    loss = loss + sum(a.sigmoid().mean() for a in model.aux_outputs)  # deep-supervision side outputs
    loss.backward()
    unreached = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not unreached, f"no (finite) gradient for: {unreached}"
    dead = [n for n, p in model.named_parameters() if not p.grad.abs().sum() > 0]
    assert not dead, f"zero gradient for: {dead}"


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_state_dict_round_trips_with_weights_only(name, tmp_path, images):
    cfg = _tiny(name)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # move away from the init so the round trip is meaningful
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "model.pt"
    torch.save({"config": cfg.to_dict(), "state_dict": model.state_dict()}, path)
    blob = torch.load(path, weights_only=True)
    clone = build_model(ModelConfig.from_dict(blob["config"])).eval()
    clone.load_state_dict(blob["state_dict"], strict=True)
    with torch.no_grad():
        assert torch.equal(model(images[:1]), clone(images[:1]))


@pytest.mark.parametrize("name", ZOO)
def test_model_config_round_trips_through_toml(name):
    cfg = get_config(name)
    text = tomli_w.dumps(cfg.to_dict())
    assert ModelConfig.from_dict(tomllib.loads(text)) == cfg


def test_model_config_rejects_bad_values_with_the_key_named():
    with pytest.raises(ConfigError, match="blocks"):
        ModelConfig(blocks=("none", "se"))
    with pytest.raises(ConfigError, match="no_such_block"):
        ModelConfig(blocks=("none", "no_such_block", "none", "none", "none"))
    with pytest.raises(ConfigError, match="task"):
        ModelConfig(task="segmentation")
    with pytest.raises(ConfigError, match="colour"):
        ModelConfig.from_dict({"colour": "red"})
    with pytest.raises(ConfigError, match="encoder"):
        ModelConfig(encoder="vgg16")
    with pytest.raises(UnknownNameError, match="effnet_lite0"):
        build_model("no_such_model")
    with pytest.raises(ConfigError, match="unknown override"):
        build_model("resnet", n_prior=3)


def test_build_model_applies_overrides():
    model = build_model("resnet", n_priors=0, task="sod")
    assert model.task == "sod" and model.prior is None
    assert model.config.name == "resnet"


def test_channels_last_stays_off_where_onednn_would_crash():
    """torch 2.13 CPU: the channels-last weight gradient of a 1×1 stride-2 convolution with 2–7 input
    channels corrupts the heap (abort with 1 thread, endless spin with 2); such networks stay contiguous
    and train. Every zoo entry at its own widths keeps channels-last."""
    assert all(build_model(n, pretrained=False)._channels_last for n in ZOO)
    narrow = build_model("resnet", encoder_width=0.125, decoder_channels=(16, 8), head_channels=4)
    assert not narrow._channels_last
    assert all(p.is_contiguous() for p in narrow.parameters())
    out = narrow.train()(torch.randn(2, 3, 64, 96))
    out[:, :, 20:40, 30:60].mean().neg().backward()   # one thread (conftest): crashed before the guard
    assert all(torch.isfinite(p.grad).all() for p in narrow.parameters() if p.grad is not None)
