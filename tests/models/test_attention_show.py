"""Attention read-out on images: maps brought back to the image's coordinates, and ``saliency show
--attention CHECKPOINT`` adding one panel per spatial attention map on real OSIE shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from saliency.cli.app import main
from saliency.fixations.table import DatasetMeta, FixationTable
from saliency.maps import MapOptions
from saliency.models import build_model
from saliency.models.introspect import attention_on_image, spatial_attention
from saliency.shards import build_shards
from saliency.training.checkpoint import save_checkpoint
from saliency.training.modeling import model_spec

STIMULUS = "1002.jpg"
CANVAS = (96, 128)


class _RedChannelAttention(nn.Module):
    """Stores, as its 'attention', the red channel of its (padded to ×32) input average-pooled by 8 —
    a map whose correct placement on the image is known."""

    def __init__(self) -> None:
        super().__init__()
        self.attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded = F.pad(x, (0, -w % 32, 0, -h % 32))
        self.attention = F.avg_pool2d(padded[:, :1], 8)
        return x


def test_attention_on_image_puts_maps_back_where_they_came_from():
    # a linear ramp survives pooling + bilinear upsampling + letterbox resampling exactly (up to rounding),
    # so the recovered map equals the image's normalised red channel; a misplacement by one 8-px cell
    # would be off by ≈ 0.5
    h, w = 60, 80
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.round(xx * 255 / (w - 1) * 0.7 + yy * 255 / (h - 1) * 0.3).astype(np.uint8)
    model = nn.Sequential(_RedChannelAttention())
    (name, m), = attention_on_image(model, img, canvas=(48, 96))  # pillar-boxed: 16 px black each side
    assert name == "0" and m.shape == (h, w) and m.dtype == np.float32
    want = (img[..., 0] / 255 - 0.485) / 0.229
    np.testing.assert_allclose(m[8:-8, 8:-8], want[8:-8, 8:-8], atol=0.06)
    (_, m_native), = attention_on_image(model, img)  # no canvas: fed at its own size
    np.testing.assert_allclose(m_native[8:-8, 8:-8], want[8:-8, 8:-8], atol=0.06)


def test_spatial_attention_skips_channel_weights_and_splits_scale_weights():
    maps = {"se": torch.rand(2, 16, 1, 1), "sk": torch.rand(2, 2, 16), "cbam": torch.rand(2, 1, 6, 8),
            "fusion": torch.rand(2, 3, 12, 16), "wide": torch.rand(2, 32, 4, 4)}
    got = dict(spatial_attention(maps, item=1))
    assert set(got) == {"cbam", "fusion[0]", "fusion[1]", "fusion[2]", "wide"}
    assert torch.equal(got["cbam"], maps["cbam"][1, 0]) and torch.equal(got["fusion[2]"], maps["fusion"][1, 2])
    torch.testing.assert_close(got["wide"], maps["wide"][1].mean(0))


@pytest.fixture(scope="module")
def osie_shards(datasets_dir, tmp_path_factory):
    """A one-stimulus OSIE shard set built from the real fixations."""
    from saliency.readers.nus import read_nus

    table = read_nus(datasets_dir / "osie")
    meta = table.meta
    meta = DatasetMeta(meta.name, {STIMULUS: meta.stimuli[STIMULUS]}, meta.geometry, meta.pixels_per_degree,
                       meta.coordinate_origin, meta.source_format, meta.notes)
    one = FixationTable.from_frame(table.data[table.data["stimulus"] == STIMULUS], meta)
    root = tmp_path_factory.mktemp("osie") / "shards"
    build_shards(one, root, MapOptions(sigma=24.0), shard_size=1)
    return root


def _checkpoint(path, name: str, **overrides) -> nn.Module:
    """An untrained zoo model saved in the training loop's checkpoint format (what load_model reads).

    Keep the ImageNet encoder where there is one: on a randomly initialised EfficientNet the deep features
    are ≈ 0 and every attention gate sits at a constant σ(0) = 0.5 (a blank panel).
    """
    torch.manual_seed(0)
    model = build_model(name, decoder_channels=(16, 8), head_channels=4, **overrides).eval()
    save_checkpoint(path, {"model": model.state_dict(), "model_spec": model_spec(model, name, {}),
                           "canvas": list(CANVAS)})
    return model


def _show(shards, png, *extra: str) -> int:
    with pytest.raises(SystemExit) as rc:
        main(["show", STIMULUS, "--shards", str(shards), "--out", str(png), *extra])
    return rc.value.code


def test_show_attention_adds_one_panel_per_spatial_map(osie_shards, tmp_path):
    ckpt = tmp_path / "cbam_mhsa.pt"
    model = _checkpoint(ckpt, "effnet_lite0_cbam", bottleneck="mhsa")
    plain, with_att = tmp_path / "plain.png", tmp_path / "attention.png"
    assert _show(osie_shards, plain) == 0
    assert _show(osie_shards, with_att, "--attention", str(ckpt)) == 0
    # 3 CBAM spatial maps (strides 8, 16, 32) + the MHSA bottleneck's received attention
    with Image.open(with_att) as im:
        rendered_attention = np.asarray(im.convert("RGB"))
    with Image.open(plain) as im:
        rendered_plain = np.asarray(im.convert("RGB"))
    h, w = 600, 800  # OSIE stimuli
    assert rendered_plain.shape == (h + 22, 2 * w, 3)
    assert rendered_attention.shape == (h + 22, (2 + 4) * w, 3)
    np.testing.assert_array_equal(rendered_attention[:, : 2 * w], rendered_plain)  # same first two panels
    with Image.open(_image(osie_shards)) as im:
        img = np.asarray(im.convert("RGB"))
    stimulus = img.astype(int)
    for k in range(2, 6):  # every attention panel is a colour overlay on the stimulus, not a copy (blank map)
        panel = rendered_attention[22:, k * w:(k + 1) * w].astype(int)
        assert np.abs(panel - stimulus).mean() > 5
    # the maps drawn are those of the model read back from the checkpoint, at the image's size
    maps = attention_on_image(model, img, canvas=CANVAS)
    assert [n for n, _ in maps] == ["decoder.bottleneck", "encoder.stage_blocks.2",
                                   "encoder.stage_blocks.3", "encoder.stage_blocks.4"]
    assert all(m.shape == (h, w) for _, m in maps)
    # the HTML report's gallery draws the same panels (names and maps)
    from saliency.reports.rundir import model_gallery_loader

    item = model_gallery_loader(ckpt, task="fixation", shards_root=osie_shards)(STIMULUS)
    assert list(item.attention) == [n for n, _ in maps]
    for name, m in maps:
        np.testing.assert_allclose(item.attention[name], m, rtol=1e-5, atol=1e-6)


def test_show_attention_without_spatial_maps_is_a_clear_error(osie_shards, tmp_path, capsys):
    ckpt = tmp_path / "se.pt"
    _checkpoint(ckpt, "resnet_se", encoder_width=0.125)  # SE: channel weights only
    png = tmp_path / "se.png"
    assert _show(osie_shards, png, "--attention", str(ckpt)) == 3
    assert "no spatial attention maps" in capsys.readouterr().err
    assert not png.exists()


def _image(shards):
    from saliency.shards import open_shards

    return open_shards(shards).load(STIMULUS).image_path
