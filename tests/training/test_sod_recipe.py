"""The SOD training pieces: SOD decoder side outputs, edge/MAE terms, deep supervision, multi-scale
batches, frozen-encoder warm-up, flip TTA, validation calibration, strong mask-consistent augmentation
and a tiny end-to-end run of the recipe's features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliency.datasets import SODFolder
from saliency.datasets.transforms import AugmentConfig, apply_augmentation, build_augmentation
from saliency.errors import ConfigError
from saliency.models import build_model
from saliency.training import WeightedObjective, load_config, load_model, train
from saliency.training.calibration import Calibration, apply_calibration, fit_calibration
from saliency.training.data import scale_batch
from saliency.training.evaluation import predict_array
from saliency.training.loop import set_encoder_frozen
from saliency.training.losses import edge_loss, mae_loss, structure_loss

ROOT = Path(__file__).resolve().parents[2]


def _tiny_sodnet(**kw):
    torch.manual_seed(0)
    return build_model("sodnet_lite0", pretrained=False, decoder_channels=(16, 8), head_channels=4, **kw)


def _mask(n: int = 2, size: int = 40) -> torch.Tensor:
    m = torch.zeros(n, 1, size, size)
    m[:, :, 10:30, 8:25] = 1
    return m


def test_sod_decoder_leaves_one_side_output_per_level_in_training_only():
    model = _tiny_sodnet().train()
    x = torch.randn(2, 3, 70, 90)
    out = model(x)
    assert out.shape == (2, 1, 70, 90)
    assert [a.shape for a in model.aux_outputs] == [(2, 1, 70, 90)] * 3  # context + 2 levels
    model.eval()
    with torch.no_grad():
        model(x)
    assert model.aux_outputs == []
    plain = _tiny_sodnet(skip_block="none", context="none")
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in model.parameters())


def test_sod_decoder_options_are_validated():
    with pytest.raises(ConfigError, match="skip_block"):
        build_model("sod_effnet_lite0", pretrained=False, skip_block="cbam")
    with pytest.raises(ConfigError, match="context"):
        build_model("sodnet_lite0", pretrained=False, context="nope")


def test_edge_and_mae_terms_prefer_the_right_mask_and_see_contours():
    m = _mask()
    good = (m * 2 - 1) * 8
    nothing = torch.full_like(m, -8.0)  # no object, hence no contour
    assert float(edge_loss(good, m)) < 0.05 < 0.9 < float(edge_loss(nothing, m))
    assert float(edge_loss(-good, m)) < 0.05  # the inverted mask has the same contours: area terms see it
    assert float(mae_loss(good, m)) < 0.01 and float(mae_loss(-good, m)) > 0.99
    blurred = torch.nn.functional.avg_pool2d(m, 9, stride=1, padding=4)
    soft = (blurred * 2 - 1) * 8
    # a blurred contour costs the edge term far more (relatively) than the area term
    assert float(edge_loss(soft, m)) > 5 * float(edge_loss(good, m))


def test_deep_supervision_adds_the_weighted_mean_over_side_outputs():
    m = _mask()
    logits = torch.randn(2, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    obj = WeightedObjective({"structure": 1.0, "edge": 0.5}, "sod", deep_supervision=0.4)
    base, _ = WeightedObjective({"structure": 1.0, "edge": 0.5}, "sod")(logits, {"mask": m})
    loss, terms = obj(logits, {"mask": m}, aux=[logits, logits])
    assert float(loss) == pytest.approx(1.4 * float(base), rel=1e-6)
    assert terms["deep_supervision"] == pytest.approx(float(base), rel=1e-6)
    assert float(obj(logits, {"mask": m})[0]) == pytest.approx(float(base), rel=1e-6)
    assert float(structure_loss(logits, m)) == pytest.approx(terms["structure"], rel=1e-6)


def test_multi_scale_batches_are_seeded_and_multiples_of_32():
    batch = {"image": torch.randn(2, 3, 64, 96), "mask": torch.zeros(2, 1, 64, 96)}
    sizes = {tuple(scale_batch(batch, (0.5, 1.0, 1.5), 0, s)["image"].shape[-2:]) for s in range(30)}
    assert sizes == {(32, 64), (64, 96), (96, 128)}  # 144/32 = 4.5 rounds half to even: 128
    a = scale_batch(batch, (0.5, 1.5), 3, 7)
    b = scale_batch(batch, (0.5, 1.5), 3, 7)
    assert a["image"].shape == b["image"].shape == (2, 3, *a["mask"].shape[-2:])
    assert scale_batch(batch, (), 0, 0) is batch


def test_frozen_encoder_gets_no_gradient_and_keeps_its_batchnorm_statistics():
    model = _tiny_sodnet().train()
    assert set_encoder_frozen(model, True)
    bn = next(m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    out = model(torch.randn(2, 3, 64, 64))
    (out.mean() + sum(a.mean() for a in model.aux_outputs)).backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.decoder.parameters())
    assert torch.equal(bn.running_mean, before)
    model.train()
    assert not set_encoder_frozen(model, False)
    assert all(p.requires_grad for p in model.encoder.parameters()) and model.encoder.training
    model.train()
    set_encoder_frozen(model, False, 0.5)
    flags = [p.requires_grad for p in model.encoder.parameters()]
    assert flags == sorted(flags) and 0.45 < np.mean(flags) < 0.55  # the deeper half only
    stem_bn = next(m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not stem_bn.training


def test_flip_tta_averages_the_mirrored_prediction():
    torch.manual_seed(0)
    model = _tiny_sodnet().eval()
    img = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    plain = predict_array(model, img, (64, 64), torch.device("cpu"), "sod", tta_flip=False)
    mirror = predict_array(model, img[:, ::-1].copy(), (64, 64), torch.device("cpu"), "sod", tta_flip=False)
    tta = predict_array(model, img, (64, 64), torch.device("cpu"), "sod", tta_flip=True)
    assert not np.allclose(plain, mirror[:, ::-1], atol=1e-3)
    np.testing.assert_allclose(tta, 0.5 * (plain + mirror[:, ::-1]), atol=2e-3)
    model.tta_flip = True
    np.testing.assert_allclose(predict_array(model, img, (64, 64), torch.device("cpu"), "sod"), tta, atol=1e-6)
    from saliency.datasets import Letterbox, normalize_image
    from saliency.training.inference import make_forward, to_stimulus

    lb = Letterbox.fit(40, 56, 64, 64)  # saliency predict's path: the backend forward wraps the TTA
    x = normalize_image(lb.image_to_canvas(img))[None].numpy()
    np.testing.assert_allclose(to_stimulus(make_forward(model)(x)[0, 0], lb, "sod"), tta, atol=1e-5)



def test_multi_scale_tta_averages_the_resized_canvases_on_every_path():
    from saliency.training.inference import (
        make_forward,
        mean_probability_logits,
        scaled_size,
        tta_views,
        with_tta,
    )

    assert scaled_size(192, 192, 4 / 3) == (256, 256) and scaled_size(64, 96, 0.1) == (32, 32)
    seen = []

    def smooth(x):  # a scale-equivariant 'network' that records the sizes it is run at
        seen.append(x.shape[-2:])
        return x[:, :1] * 0 + np.linspace(-2, 2, x.shape[-1], dtype=np.float32)
    x = np.zeros((1, 3, 64, 96), np.float32)
    views = tta_views(smooth, x, flip=True, scales=(1.0, 1.5))
    assert seen == [(64, 96)] * 2 + [(96, 128)] * 2 and all(v.shape == (1, 1, 64, 96) for v in views)
    np.testing.assert_allclose(views[2], views[0], atol=0.04)  # the ramp survives resizing there and back
    np.testing.assert_allclose(views[1], views[0][..., ::-1])
    np.testing.assert_allclose(with_tta(smooth, flip=True, scales=(1.0, 1.5))(x), mean_probability_logits(*views))
    torch.manual_seed(0)
    model = _tiny_sodnet().eval()
    model.tta_flip, model.tta_scales = True, (1.0, 1.5)
    img = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    ms = predict_array(model, img, (64, 64), torch.device("cpu"), "sod")
    model.tta_scales = (1.0,)
    assert np.abs(ms - predict_array(model, img, (64, 64), torch.device("cpu"), "sod")).max() > 1e-6
    model.tta_scales = (1.0, 1.5)
    from saliency.datasets import Letterbox, normalize_image
    from saliency.training.inference import to_stimulus

    lb = Letterbox.fit(40, 56, 64, 64)
    x = normalize_image(lb.image_to_canvas(img))[None].numpy()
    np.testing.assert_allclose(to_stimulus(make_forward(model)(x)[0, 0], lb, "sod"), ms, atol=1e-5)

def test_head_calibration_is_an_affine_map_of_the_logits_and_old_state_dicts_load():
    model = _tiny_sodnet().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        z = model(x)
        apply_calibration(model, Calibration(a=2.0, b=-1.0, mae_before=0, mae_after=0, n_images=0))
        torch.testing.assert_close(model(x), 2 * z - 1, rtol=1e-5, atol=1e-5)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("head.calibration")}
    clone = _tiny_sodnet()
    clone.load_state_dict(state, strict=True)
    assert clone.head.calibration.tolist() == [1.0, 0.0]


def _folder(root: Path, n: int = 12) -> SODFolder:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        img = (rng.random((40, 56, 3)) * 90).astype(np.uint8)
        mask = np.zeros((40, 56), bool)
        y, x = int(rng.integers(4, 20)), int(rng.integers(4, 30))
        mask[y:y + 14, x:x + 18] = True
        img[mask] = 230
        Image.fromarray(img).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(mask).save(root / "masks" / f"{i:03d}.png")
    return SODFolder(root)


class _Brightness(torch.nn.Module):
    """An under-confident 'detector': logits = 0.3 × the mean normalised intensity (objects are bright)."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Module()
        self.head.register_buffer("calibration", torch.tensor([1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.head.calibration
        return c[0] * 0.3 * x.mean(1, keepdim=True) + c[1]


def test_calibration_sharpens_an_underconfident_model_and_never_hurts(tmp_path):
    folder = _folder(tmp_path / "sod", 4)
    model = _Brightness()
    cal = fit_calibration(model, folder, folder.stimuli, (64, 64), torch.device("cpu"), tta_flip=True)
    assert cal.mae_after < cal.mae_before - 0.05 and cal.a > 1
    assert cal.mae_after + 1 - cal.s_after < cal.mae_before + 1 - cal.s_before  # the fitted objective
    multi = fit_calibration(model, folder, folder.stimuli, (64, 64), torch.device("cpu"), tta_flip=True,
                            tta_scales=(1.0, 1.5))
    assert multi.mae_after < multi.mae_before - 0.05 and multi.n_images == 4
    assert model.head.calibration.tolist() == [1.0, 0.0]  # fitting leaves the model unchanged
    with pytest.raises(ConfigError, match="calibration"):
        fit_calibration(torch.nn.Conv2d(3, 1, 1), folder, folder.stimuli, (64, 64), torch.device("cpu"))


def test_strong_augmentation_moves_image_and_mask_together():
    img = np.zeros((64, 64, 3), np.uint8)
    img[20:44, 16:40] = 255
    mask = (img[..., 0] > 0).astype(np.float32)
    aug = build_augmentation(AugmentConfig(hflip=True, photometric=False, strong=True))
    moved = 0
    for seed in range(12):
        out_img, out_mask, _, _ = apply_augmentation(aug, seed, img, mask, np.zeros(0), np.zeros(0))
        bright = out_img.mean(-1) > 127
        agree = ((out_mask > 0.5) == bright).mean()
        assert agree > 0.97, (seed, agree)
        moved += not np.array_equal(out_mask > 0.5, mask > 0.5)
    assert moved >= 6


def test_the_cpu_recipe_features_run_end_to_end_on_a_tiny_folder(tmp_path):
    folder = _folder(tmp_path / "sod", 12)
    cfg = load_config(ROOT / "pipelines" / "configs" / "sod_cpu.toml", [
        "data.height=64", "data.width=64", "data.num_workers=0", "train.epochs=2",
        "train.freeze_encoder_epochs=1", "train.batch_size=4", "train.device=\"cpu\"",
        "model.options={pretrained = false, decoder_channels = [16, 8], head_channels = 4}",
        "train.tta_scales=[1.0, 1.5]"])
    res = train(cfg, run_dir=tmp_path / "run", source=folder)
    assert [r["encoder_frozen"] for r in res.history] == [True, False]
    assert "train_deep_supervision" in res.history[0] and "train_edge" in res.history[0]
    assert (tmp_path / "run" / "calibration.json").is_file()
    model = load_model(res.best_checkpoint)
    assert model.tta_flip is True and model.tta_scales == (1.0, 1.5)
    assert res.evaluation["sod"]["n_images"] >= 1 and 0 <= res.evaluation["sod"]["mae"] <= 1


def test_the_gpu_recipe_is_the_cpu_recipe_scaled_up():
    from saliency.training.loop import _flatten

    cpu = _flatten(load_config(ROOT / "pipelines" / "configs" / "sod_cpu.toml").to_dict())
    gpu = _flatten(load_config(ROOT / "pipelines" / "configs" / "sod_gpu.toml").to_dict())
    differ = {k for k in cpu.keys() | gpu.keys() if cpu.get(k) != gpu.get(k)}
    assert differ == {"name", "data.height", "data.width", "data.num_workers", "data.scales", "train.epochs",
                      "train.freeze_encoder_epochs", "train.batch_size", "train.encoder_trainable_fraction"}


def test_the_320_px_cpu_recipe_is_the_cpu_recipe_at_320_px_with_the_whole_encoder_fine_tuned():
    from saliency.training.loop import _flatten

    cpu = _flatten(load_config(ROOT / "pipelines" / "configs" / "sod_cpu.toml").to_dict())
    big = _flatten(load_config(ROOT / "pipelines" / "configs" / "sod_cpu320.toml").to_dict())
    differ = {k for k in cpu.keys() | big.keys() if cpu.get(k) != big.get(k)}
    assert differ == {"name", "data.height", "data.width", "data.scales", "train.epochs",
                      "train.freeze_encoder_epochs", "train.encoder_trainable_fraction"}
    assert (big["data.height"], big["data.width"], big["train.encoder_trainable_fraction"]) == (320, 320, 1.0)


def test_retune_candidates_parse_scale_sets_and_refuse_bad_ones():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sod_retune", ROOT / "benchmarks" / "sod_retune.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.parse_candidates("1;1,1.2;0.8, 1, 1.2") == ((1.0,), (1.0, 1.2), (0.8, 1.0, 1.2))
    for bad in ("1;;1.2", "1,9", "x"):
        with pytest.raises(ValueError):
            mod.parse_candidates(bad)


def test_average_state_dicts_means_floats_keeps_the_last_counters_and_refuses_mismatches():
    from saliency.errors import SchemaError
    from saliency.training.checkpoint import average_state_dicts

    a = {"w": torch.tensor([1.0, 3.0]), "bn.num_batches_tracked": torch.tensor(5)}
    b = {"w": torch.tensor([2.0, 6.0]), "bn.num_batches_tracked": torch.tensor(9)}
    avg = average_state_dicts([a, b])
    assert avg["w"].tolist() == [1.5, 4.5] and int(avg["bn.num_batches_tracked"]) == 9
    assert a["w"].tolist() == [1.0, 3.0]  # inputs untouched
    with pytest.raises(SchemaError, match="keys"):
        average_state_dicts([a, {"w": b["w"]}])
    with pytest.raises(SchemaError, match="shape"):
        average_state_dicts([a, {**b, "w": torch.zeros(3)}])
    with pytest.raises(SchemaError):
        average_state_dicts([])


def test_sod_average_writes_a_run_whose_best_is_the_mean_with_identity_calibration(tmp_path):
    import importlib.util

    from saliency.training.checkpoint import save_checkpoint

    spec = importlib.util.spec_from_file_location("sod_average", ROOT / "benchmarks" / "sod_average.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("config.toml", "splits.json", "metrics.jsonl"):
        (run / name).write_text(name)
    m1, m2 = _tiny_sodnet().state_dict(), {k: v + 1 if v.is_floating_point() else v for k, v in
                                           _tiny_sodnet().state_dict().items()}
    m1["head.calibration"] = torch.tensor([2.0, -1.0])
    save_checkpoint(run / "checkpoints" / "best.pt", {"model": m1, "epoch": 3, "optimizer": {}})
    save_checkpoint(run / "checkpoints" / "last.pt", {"model": m2, "epoch": 7, "optimizer": {}})
    path = mod.average_run(run, tmp_path / "avg")
    from saliency.training.checkpoint import load_checkpoint

    ck = load_checkpoint(path)
    assert ck["averaged_from"] == ["best.pt (epoch 3)", "last.pt (epoch 7)"] and "optimizer" not in ck
    assert ck["model"]["head.calibration"].tolist() == [1.0, 0.0]
    k = next(k for k, v in m1.items() if v.is_floating_point() and k != "head.calibration")
    torch.testing.assert_close(ck["model"][k], m1[k] + 0.5)
    assert (tmp_path / "avg" / "splits.json").read_text() == "splits.json"
