"""Splits by stimulus hash: deterministic, stable under additions, close to the requested fractions."""

from __future__ import annotations

import hashlib
import json

import pytest

from saliency.datasets import make_splits, split_of, stimulus_unit, write_splits
from saliency.errors import ConfigError

NAMES = [f"{i}.jpg" for i in range(1001, 1701)]  # OSIE's stimulus names


def test_split_is_a_pure_function_of_name_salt_and_fractions():
    a = make_splits(NAMES)
    b = make_splits(list(reversed(NAMES)))
    assert a == b
    assert sorted(a["train"] + a["val"] + a["test"]) == sorted(NAMES)
    assert not set(a["train"]) & set(a["test"])
    assert make_splits(NAMES, salt="x") != a


def test_unit_is_the_documented_sha1_prefix():
    digest = hashlib.sha1(b"1001.jpg").hexdigest()
    assert stimulus_unit("1001.jpg") == int(digest[:15], 16) / 16**15


def test_adding_stimuli_never_moves_existing_ones():
    small = make_splits(NAMES[:100])
    big = make_splits(NAMES)
    for k in small:
        assert set(small[k]) <= set(big[k])


def test_fractions_are_met_within_sampling_error():
    s = make_splits(NAMES, (0.7, 0.1, 0.2))
    n = len(NAMES)
    assert abs(len(s["train"]) / n - 0.7) < 0.06
    assert abs(len(s["test"]) / n - 0.2) < 0.05


@pytest.mark.parametrize("bad", [(0.5, 0.5), (0.8, 0.3, 0.1), (-0.1, 0.6, 0.5)])
def test_bad_fractions_raise_config_error(bad):
    with pytest.raises(ConfigError, match="split_fractions"):
        split_of("a", bad)


def test_splits_are_recorded_as_json(tmp_path):
    s = make_splits(NAMES[:20])
    write_splits(tmp_path / "splits.json", s, fractions=(0.8, 0.1, 0.1), salt="", dataset="osie")
    d = json.loads((tmp_path / "splits.json").read_text())
    assert d["splits"] == s and d["counts"]["train"] == len(s["train"])
