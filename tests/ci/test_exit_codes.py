"""Exit codes: a bad choice for any command-line option is a usage error (2), for every command that has
one; a bad value inside a recipe or --set is bad config (3)."""

from __future__ import annotations

import enum
import typing

import pytest
import typer
from typer.testing import CliRunner

from saliency.cli.app import build_app, main


def _choice_options() -> list[tuple[tuple[str, ...], str]]:
    """(command path, option) for every option declared with a fixed set of choices (Literal or Enum)."""
    out = []

    def walk(cmd, path):
        if hasattr(cmd, "list_commands"):
            ctx = cmd.context_class(cmd)
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), (*path, name))
            return
        for p in cmd.params:
            ann = getattr(getattr(p, "type_descriptor", None), "annotation", None)
            todo, found = [ann], False
            while todo:
                t = todo.pop()
                if typing.get_origin(t) is typing.Literal or (isinstance(t, type) and issubclass(t, enum.Enum)):
                    found = True
                todo.extend(typing.get_args(t))
            if found and p.param_type_name == "option":
                out.append((path, p.opts[0]))

    walk(typer.main.get_command(build_app()), ())
    return out


CHOICES = _choice_options()


def test_the_choice_options_are_declared_as_choices():
    declared = {(" ".join(p), o) for p, o in CHOICES}
    assert {("export model", "--format"), ("predict", "--format"), ("evaluate", "--convention"),
            ("baselines", "--convention"), ("maps", "--mode"), ("ingest", "--on-error")} <= declared


@pytest.mark.parametrize(("path", "option"), CHOICES, ids=[f"{' '.join(p)} {o}" for p, o in CHOICES])
def test_a_bad_choice_is_a_usage_error(path, option):
    res = CliRunner().invoke(build_app(), [*path, option, "no-such-choice"], terminal_width=400)
    assert res.exit_code == 2, res.output[-800:]
    assert "Invalid value for" in res.output and option in res.output, res.output[-800:]  # not another usage error


def test_a_bad_value_in_a_recipe_override_is_exit_3(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "pipelines/configs/quick.toml", "--set", "optim.name=adam", "--run-dir", str(tmp_path / "r")])
    assert info.value.code == 3 and "optim.name" in capsys.readouterr().err
