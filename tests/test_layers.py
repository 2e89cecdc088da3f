"""The one-way flow between the packages (docs/architecture.md) holds, function-level imports included."""

from __future__ import annotations

import tomllib
from pathlib import Path

import saliency

ROOT = Path(__file__).resolve().parents[1]


def _layers() -> list[str]:
    """Every module named in the layers contract ("(name)": optional, may not exist yet)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [m.strip() for layer in contract["layers"] for m in layer.split("|")]


def test_every_module_of_the_package_is_in_a_layer():
    package = Path(saliency.__file__).parent
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in package.glob("*/__init__.py")}
    layers = _layers()
    assert modules - {m.strip("()") for m in layers} == set(), "modules outside the layers contract"
    assert {m for m in layers if not m.startswith("(")} - modules == set(), "layers naming no module"


def test_layers_contract_is_kept(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out
