"""Every ``saliency …`` command shown in README.md, docs/*.md and the pipeline files' comments is a valid
command line of the CLI: the sub-command exists (its ``--help`` runs), every option exists, options
that take a value have one, every documented choice is a valid choice, no required option is missing,
and there are no more positionals than the command takes.

Commands come from fenced code blocks (a line starting with ``saliency`` or ``$ saliency``; ``\\``
continuations joined; ``# comments`` dropped) and from inline code spans starting with ``saliency``.
Documentation notation is understood: ``[--opt X]`` (optional: validated as if given), ``a|b``
alternatives (each checked), ``…``/``...`` (a standalone ``…`` elides arguments and options; as an
option's value it is only that value), upper-case placeholders (``CKPT``,
``IMAGES``) stand for paths, which are never read. Then the CLI's own parser gets the same flags followed
by ``--help`` (eager: nothing runs) and must accept them.
"""

from __future__ import annotations

import enum
import re
import shlex
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from saliency.cli.app import build_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PIPELINE_FILES = sorted((ROOT / "pipelines").rglob("*.toml"))
ELLIPSES = ("…", "...")


@dataclass(frozen=True)
class Shown:
    where: str  # file:line
    text: str   # the command as written (one line)
    strict: bool = True  # a shell block: must be a command; else only lines naming a real sub-command count
    inline: bool = False  # an inline span: without positional arguments it only names a command/option


SHELL = ("bash", "sh", "shell", "console", "zsh")


def _fenced(path: Path) -> list[Shown]:
    out, in_block, pending, start, lang = [], False, "", 0, ""
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block, pending = not in_block, ""
            lang = line.strip()[3:].strip().lower()
            continue
        if not in_block:
            continue
        text = line.strip()
        if pending:
            text = pending + " " + text
        elif text.startswith("$ "):
            text = text[2:]
        if not pending and not text.startswith("saliency "):
            continue
        if not pending:
            start = no
        if text.endswith("\\"):
            pending = text[:-1].strip()
            continue
        pending = ""
        out.append(Shown(f"{path.relative_to(ROOT)}:{start}", text, strict=lang in SHELL))
    return out


_SPAN = re.compile(r"(?<!`)`(saliency [^`]+)`(?!`)")


def _inline(path: Path) -> list[Shown]:
    out, in_block = [], False
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            out += [Shown(f"{path.relative_to(ROOT)}:{no}", m.group(1), strict=False, inline=True)
                    for m in _SPAN.finditer(line)]
    return out


def _toml_comments(path: Path) -> list[Shown]:
    out = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.match(r"\s*#\s+(saliency \S.*)$", line)
        if m:
            out.append(Shown(f"{path.relative_to(ROOT)}:{no}", m.group(1)))
    return out


def _names_a_command(text: str) -> bool:
    tokens = _tokens(text)
    return len(tokens) < 2 or tokens[1].startswith("-") or tokens[1].split("|")[0] in _root().commands


def shown_commands() -> list[Shown]:
    """Every command line shown; outside shell blocks, only lines whose second word is a real sub-command
    (``saliency efix`` in a benchmark table is a row label, not a command)."""
    found = [c for p in DOCS for c in (*_fenced(p), *_inline(p))]
    found += [c for p in PIPELINE_FILES for c in _toml_comments(p)]
    return [c for c in found if c.strict or _names_a_command(c.text)]


def _tokens(text: str) -> list[str]:
    text = text.replace("\\|", "|")
    text = re.sub(r"\s#\s.*$", "", text)       # trailing comment
    text = re.sub(r"[;&|]{2}.*$", "", text)     # a second command chained with && or ||
    text = re.sub(r"\s[|>]\s.*$", "", text)     # piped or redirected output
    text = text.replace("[", " ").replace("]", " ")
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


# typer vendors its own click: commands and parameters are inspected by duck typing
Command = Any


@cache
def _app() -> typer.Typer:
    return build_app()


@cache
def _root() -> Command:
    return typer.main.get_command(_app())


def _is_group(cmd: Command) -> bool:
    return hasattr(cmd, "list_commands")


def _resolve(tokens: list[str]) -> tuple[list[str], Command, list[str]]:
    cmd = _root()
    path, rest = [], tokens[1:]
    while _is_group(cmd) and rest and not rest[0].startswith("-"):
        ctx = cmd.context_class(cmd)
        sub = cmd.get_command(ctx, rest[0])
        if sub is None:
            if "|" in rest[0]:  # `export fixations|predictions`: check the first alternative
                sub = cmd.get_command(ctx, rest[0].split("|")[0])
            assert sub is not None, f"no command {' '.join(['saliency', *path, rest[0]])!r}"
        path.append(rest[0].split("|")[0])
        cmd, rest = sub, rest[1:]
    return path, cmd, rest


def _placeholder(value: str) -> bool:
    return any(e in value for e in ELLIPSES) or bool(re.fullmatch(r"[A-Z][A-Z0-9_.\-]*|[A-Z]+\.\.\.", value))


def _choices(opt: Any) -> set[str] | None:
    """The valid values of an option with a fixed set of choices (a ``Literal`` or ``Enum`` annotation,
    possibly in ``X | None`` or ``list[X]``)."""
    todo = [getattr(getattr(opt, "type_descriptor", None), "annotation", None)]
    while todo:
        t = todo.pop()
        if typing.get_origin(t) is typing.Literal:
            return {str(a) for a in typing.get_args(t)}
        if isinstance(t, type) and issubclass(t, enum.Enum):
            return {str(m.value) for m in t}
        todo.extend(a for a in typing.get_args(t) if a is not type(None))
    return None


def problems(text: str, *, reference_ok: bool = False) -> list[str]:
    """What is wrong with one shown command line (empty: valid). ``reference_ok``: a line without
    positional arguments only names the command and options (an inline mention such as
    ``saliency show --attention``): options must exist, nothing more."""
    tokens = _tokens(text)
    path, cmd, rest = _resolve(tokens)
    if _is_group(cmd):
        return [] if not rest or rest == ["--help"] else [f"{' '.join(path)}: a group, not a command"]
    params = [p for p in cmd.params if p.param_type_name in ("option", "argument")]
    options = {name: p for p in params if p.param_type_name == "option" for name in (*p.opts, *p.secondary_opts)}
    options.setdefault("--help", None)
    arguments = [p for p in params if p.param_type_name == "argument"]
    seen: set[str] = set()
    positionals: list[str] = []
    errs: list[str] = []
    elided = False
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok in ELLIPSES:  # "…" standing for arguments: more options may be elided too
            elided = True
            i += 1
            continue
        if tok.startswith("-") and len(tok) > 1 and not re.fullmatch(r"-\d.*", tok):
            name, _, attached = tok.partition("=")
            if name == "--help":
                i += 1
                continue
            opt = options.get(name)
            if opt is None:
                errs.append(f"unknown option {name!r} for 'saliency {' '.join(path)}'")
                i += 1
                continue
            seen.add(opt.name)
            if getattr(opt, "is_flag", False) or getattr(opt, "count", False):
                i += 1
                continue
            if attached:
                value = attached
            elif i + 1 < len(rest) and not (rest[i + 1].startswith("-") and len(rest[i + 1]) > 1
                                            and not re.fullmatch(r"-\d.*", rest[i + 1])):
                value = rest[i + 1]
                i += 1
            else:
                if not reference_ok:  # an inline mention may name an option without its value
                    errs.append(f"option {name} needs a value")
                i += 1
                continue
            i += 1
            choices = _choices(opt)
            if choices is not None and not _placeholder(value):
                for alt in value.split("|"):
                    if alt not in choices:
                        errs.append(f"{name} {alt!r}: not one of {sorted(choices)}")
            continue
        positionals.append(tok)
        i += 1
    if "--help" in tokens or (reference_ok and not positionals):
        return errs
    for p in params:
        if p.param_type_name == "option" and p.required and p.name not in seen and not elided:
            errs.append(f"missing required option {p.opts[0]} of 'saliency {' '.join(path)}'")
    unlimited = any(a.nargs == -1 for a in arguments)
    takes = sum(max(a.nargs, 0) for a in arguments)
    given = [t for t in positionals if t not in ELLIPSES]
    if not unlimited and len(given) > takes:
        errs.append(f"{len(given)} positional arguments {given}, 'saliency {' '.join(path)}' takes {takes}")
    needed = sum(a.nargs for a in arguments if a.required and a.nargs > 0)
    if len(given) < needed and not (elided or any(e in t for t in given for e in ELLIPSES)):
        errs.append(f"{len(given)} positional arguments, 'saliency {' '.join(path)}' needs {needed}")
    return errs


COMMANDS = shown_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 40
    assert any(c.where.startswith("README.md") for c in COMMANDS)


@pytest.mark.parametrize("shown", COMMANDS, ids=[c.where for c in COMMANDS])
def test_shown_command_matches_the_cli(shown: Shown):
    errs = problems(shown.text, reference_ok=shown.inline)
    assert not errs, f"{shown.where}: `{shown.text}`: " + "; ".join(errs)
    if shown.inline and problems(shown.text):
        return  # an inline mention of a command or option (``saliency show --attention``), not a command line
    # and the CLI's own parser accepts the same flags (--help is eager: nothing runs, no path is read)
    path, _, rest = _resolve(_tokens(shown.text))
    args = [*path, *[t.split("|")[0] for t in rest if t not in ELLIPSES], "--help"]
    res = CliRunner().invoke(_app(), args, terminal_width=200)
    assert res.exit_code == 0, f"{shown.where}: saliency {' '.join(args)}: {res.output[-600:]}"


def test_every_shown_subcommand_has_working_help():
    runner = CliRunner()
    paths = sorted({tuple(_resolve(_tokens(c.text))[0]) for c in COMMANDS})
    for path in paths:
        res = runner.invoke(build_app(), [*path, "--help"])
        assert res.exit_code == 0, f"saliency {' '.join(path)} --help: {res.output[-500:]}"


@pytest.mark.parametrize(("text", "needle"), [
    ("saliency show 1001.jpg --shards outputs/osie/shards", "missing required option --out"),
    ("saliency show 1001.jpg --shards …", "missing required option --out"),  # "…" is the value of --shards
    ("saliency export model CKPT --format onnx|torchscript", "missing required option --out"),
    ("saliency export model CKPT --format onnx|tflite --out m", "'tflite': not one of"),
    ("saliency maps osie --sigma-units px", "unknown option '--sigma-units'"),
    ("saliency train A.toml B.toml", "positional arguments"),
])
def test_the_checker_catches_drift(text, needle):
    assert any(needle in e for e in problems(text)), problems(text)
