"""Validated settings: the strict base of every configuration table, and the one ``--set`` parser.

Every configuration (training recipes, pipeline files and their stage tables) is a :class:`Settings`
model (pydantic v2): strict types (``1`` is not ``true``, ``"2"`` is not ``2``; an integer is accepted
where a number is expected), unknown keys refused, frozen. :func:`validate` turns pydantic's errors into
one :class:`ConfigError` whose lines each name the dotted key (``train.epochs: ...``).

Overrides: ``--set key=value`` with a dotted key; the value is read as TOML (``2``, ``2.5``, ``true``,
``"text"``, ``[1, 2]``, ``{a = 1}``) and kept as a plain string when it is not TOML (``model.name=tiny``).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from saliency.errors import ConfigError

T = TypeVar("T", bound="Settings")
_ITEM = TypeVar("_ITEM")

#: a TOML array read into a tuple (items keep strict types)
TomlList = Annotated[tuple[_ITEM, ...], Field(strict=False)]
#: bounded numbers, the common cases
PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


class Settings(BaseModel):
    """Base of every configuration table: strict, unknown keys refused, immutable.

    Adding a setting is one line: ``name: type = default`` (``Annotated[int, Field(gt=0)]`` for bounds,
    ``Literal[...]`` for choices, ``TomlList[float]`` for arrays).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @classmethod
    def from_dict(cls: type[T], data: Any, *, prefix: str = "", where: str = "") -> T:
        """Validate a parsed TOML table; errors name the dotted key under ``prefix``."""
        return validate(cls, data, prefix=prefix, where=where)

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-able values (tuples as lists); ``from_dict(to_dict())`` gives an equal object."""
        return self.model_dump(mode="json")


def _dotted(prefix: str, loc: Sequence[Any]) -> str:
    out = prefix.rstrip(".")
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out or "config"


def _message(cls: type[BaseModel], err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        model: Any = cls
        for part in err["loc"][:-1]:  # the table that refused the key: list its known keys
            field = getattr(model, "model_fields", {}).get(part)
            ann = getattr(field, "annotation", None)
            model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        known = sorted(model.model_fields) if model is not None else []
        return "unknown key" + (f"; known keys: {', '.join(known)}" if known else "")
    msg = err["msg"]
    if err["type"] not in ("missing",) and "input" in err:
        msg += f", got {err['input']!r}"
    return msg


def validate(cls: type[T], data: Any, *, prefix: str = "", where: str = "") -> T:
    """``cls.model_validate(data)``, raising :class:`ConfigError` (one line per bad key, dotted)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where + ': ' if where else ''}{prefix.rstrip('.') or 'config'}: "
                          f"expected a table, got {data!r}")
    try:
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        lines = [f"{_dotted(prefix, e['loc'])}: {_message(cls, e)}" for e in exc.errors()]
        head = f"{where}: " if where else ""
        raise ConfigError(head + "; ".join(lines)) from None


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` → ``("train.epochs", 3)``: the value read as TOML, else kept as a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE with a dotted key, e.g. train.epochs=2")
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"--set {text!r}: empty key component in {key.strip()!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return ".".join(parts), value


def set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    """``d["a"]["b"] = value`` for ``key`` ``"a.b"``, creating tables on the way."""
    parts = key.split(".")
    node = d
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {key}: {p!r} is a value, not a table")
        node = nxt
    node[parts[-1]] = value


def apply_overrides(settings: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A deep copy of ``settings`` with every ``key=value`` override applied in order."""
    out = copy.deepcopy(dict(settings))
    for text in overrides:
        set_dotted(out, *parse_override(text))
    return out
