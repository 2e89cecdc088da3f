"""TOML recipes and --set overrides: validated, errors name the key, the resolved config round-trips."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from saliency.errors import ConfigError
from saliency.training.config import RunConfig, dump_config, load_config, parse_override

CONFIGS = Path(__file__).resolve().parents[2] / "pipelines" / "configs"


def test_overrides_are_parsed_as_toml_values():
    assert parse_override("train.epochs=3") == ("train.epochs", 3)
    assert parse_override("optim.lr=3e-4") == ("optim.lr", 3e-4)
    assert parse_override("data.hflip=false") == ("data.hflip", False)
    assert parse_override("model.name=tiny") == ("model.name", "tiny")
    assert parse_override('data.split_fractions=[0.6, 0.2, 0.2]')[1] == [0.6, 0.2, 0.2]


def test_set_overrides_apply_and_validate(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('name = "r"\n[train]\nepochs = 2\n')
    cfg = load_config(p, ["train.epochs=4", "model.options.bottleneck=\"mhsa\"", "optim.name=sgd"])
    assert cfg.train.epochs == 4 and cfg.model.options == {"bottleneck": "mhsa"} and cfg.optim.name == "sgd"


def test_model_options_are_fields_of_the_zoo_config(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('name = "r"\n[model]\nname = "effnet_lite0"\n'
                 'options = {blocks = ["none", "none", "cbam", "cbam", "cbam"], bottleneck = "mhsa", '
                 'n_priors = 0, fusion = true}\n')
    cfg = load_config(p)
    assert cfg.model.options["n_priors"] == 0 and cfg.model.options["fusion"] is True


@pytest.mark.parametrize(("override", "needle"), [
    ('model.options.attention="cbam"', r"unknown key\(s\) \['attention'\].*valid keys: .*blocks.*bottleneck"),
    ('model.options.bottleneck="nope"', r"model\.options: .*unknown attention block 'nope'"),
    ('model.options.blocks=["se"]', r"model\.options: .*blocks"),
    ('model.name="no_such_model"', r"model\.name: unknown model 'no_such_model'"),
    ('model.options.depth=3', r"model\.options: unknown key"),
])
def test_bad_model_options_raise_config_error_listing_valid_keys(tmp_path, override, needle):
    p = tmp_path / "r.toml"
    p.write_text('name = "r"\n')
    with pytest.raises(ConfigError, match=needle):
        load_config(p, [override])


def test_tiny_model_accepts_only_width():
    RunConfig.from_dict({"model": {"name": "tiny", "options": {"width": 4}}})
    with pytest.raises(ConfigError, match="valid keys: width"):
        RunConfig.from_dict({"model": {"name": "tiny", "options": {"n_priors": 2}}})


@pytest.mark.parametrize(("override", "key"), [
    ("train.epoch=3", "train.epoch"),
    ("train.epochs=0", "train.epochs"),
    ("train.epochs=2.5", "train.epochs"),
    ("optim.name=adam", "optim.name"),
    ("data.hflip=1", "data.hflip"),
    ("loss.weights.kll=1", "loss.weights.kll"),
    ("data.split_fractions=[0.5, 0.5]", "data.split_fractions"),
    ("train.precision=fp8", "train.precision"),
])
def test_bad_values_raise_config_error_naming_the_key(tmp_path, override, key):
    p = tmp_path / "r.toml"
    p.write_text('name = "r"\n')
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(p, [override])


def test_resolved_config_round_trips_through_toml():
    cfg = RunConfig().replace(**{"model.options": {"blocks": ["none", "none", "se", "se", "se"], "n_priors": 0},
                               "loss.weights": {"kl": 1.0}})
    again = RunConfig.from_dict(tomllib.loads(dump_config(cfg)))
    assert again == cfg


@pytest.mark.parametrize("recipe", sorted(p.name for p in CONFIGS.glob("*.toml")))
def test_shipped_recipes_load(recipe):
    cfg = load_config(CONFIGS / recipe)
    assert cfg.name
