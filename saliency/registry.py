"""A generic name → factory registry, used for readers, blocks, encoders, models, metrics and losses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from saliency.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories. Unknown names raise :class:`UnknownNameError` listing the known ones.

    >>> blocks = Registry("block")
    >>> @blocks.register("se")
    ... def make_se(channels): ...
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, *, help: str | None = None) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj, help=help)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, help: str | None = None) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = obj
        doc = help if help is not None else (getattr(obj, "__doc__", None) or "")
        self._help[name] = doc.strip().splitlines()[0] if doc.strip() else ""

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def help(self, name: str) -> str:
        self.get(name)
        return self._help[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
