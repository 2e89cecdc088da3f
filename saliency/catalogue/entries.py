"""The dataset catalogue (``data/catalogue.toml``): what each public dataset is, where its files are, how to check them.

A :class:`CatalogueEntry` holds the facts the TOML states (title, page, licence, citation, reader, card,
notes, ``facts_from``) and its :class:`RemoteFile` list. Unknown facts stay the string ``"unknown"``
(sizes and SHA-256 are unknown for every public file listed: their publishers state none), never a guess.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from saliency.errors import ConfigError, UnknownNameError

CATALOGUE_FILE = Path(__file__).resolve().parents[2] / "data" / "catalogue.toml"
UNKNOWN = "unknown"
_FILE_KEYS = {"url", "md5", "sha256", "bytes", "extract", "members", "to", "dest"}
_ENTRY_KEYS = {"title", "kind", "page", "licence", "citation", "reader", "reader_path", "card", "facts_from",
               "notes", "fetchable", "not_fetchable", "files"}


def _known(v: Any) -> str | None:
    return None if v in (None, "", UNKNOWN) else str(v).lower()


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: ``url``; ``md5``/``sha256`` hex digests (None = unknown); ``size`` in bytes (None =
    unknown); ``extract`` (zip/tar unpacked), ``members`` (only archive members under this prefix, placed
    into ``to``), ``to`` (folder inside the dataset folder), ``dest`` (file name for plain files)."""

    url: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    extract: bool = False
    members: str | None = None
    to: str = "."
    dest: str | None = None

    @property
    def verifiable(self) -> bool:
        return self.md5 is not None or self.sha256 is not None

    @property
    def file_name(self) -> str:
        """The name the download is stored under (``dest``, else the URL path's last part)."""
        if self.dest:
            return self.dest
        name = Path(unquote(urlparse(self.url).path)).name
        if not name:
            raise ConfigError(f"{self.url}: cannot tell a file name from the URL; give 'dest'")
        return name

    def checksums_text(self) -> str:
        parts = [f"sha256 {self.sha256}" if self.sha256 else "sha256 unknown"]
        if self.md5:
            parts.append(f"md5 {self.md5}")
        return ", ".join(parts)


@dataclass(frozen=True)
class CatalogueEntry:
    """One dataset of the catalogue (see the module docstring)."""

    name: str
    title: str
    kind: str
    page: str
    licence: str
    citation: str
    reader: str
    files: tuple[RemoteFile, ...] = ()
    reader_path: str = "."
    card: str | None = None
    facts_from: str = UNKNOWN
    notes: str = ""
    fetchable: bool = True
    not_fetchable: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def unverified(self) -> list[RemoteFile]:
        return [f for f in self.files if not f.verifiable]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "kind": self.kind, "page": self.page, "licence": self.licence,
            "citation": self.citation, "reader": self.reader, "reader_path": self.reader_path, "card": self.card,
            "facts_from": self.facts_from, "notes": self.notes, "fetchable": self.fetchable,
            "not_fetchable": self.not_fetchable or None,
            "files": [{"url": f.url, "md5": f.md5 or UNKNOWN, "sha256": f.sha256 or UNKNOWN,
                       "bytes": f.size if f.size is not None else UNKNOWN, "extract": f.extract,
                       "members": f.members, "to": f.to, "dest": f.file_name} for f in self.files],
        }


def _file(name: str, i: int, d: Mapping[str, Any]) -> RemoteFile:
    bad = set(d) - _FILE_KEYS
    if bad or "url" not in d:
        raise ConfigError(f"catalogue {name!r} file {i}: needs 'url'; unknown keys {sorted(bad)}")
    size = d.get("bytes")
    return RemoteFile(url=str(d["url"]), md5=_known(d.get("md5")), sha256=_known(d.get("sha256")),
                      size=None if size in (None, UNKNOWN) else int(size), extract=bool(d.get("extract", False)),
                      members=d.get("members"), to=str(d.get("to", ".")), dest=d.get("dest"))


def parse_catalogue(doc: Mapping[str, Any], source: str = "catalogue") -> dict[str, CatalogueEntry]:
    """Entries from a parsed catalogue TOML document."""
    out: dict[str, CatalogueEntry] = {}
    for name, d in doc.items():
        if not isinstance(d, Mapping):
            raise ConfigError(f"{source}: {name!r} is not a table")
        bad = set(d) - _ENTRY_KEYS
        if bad:
            raise ConfigError(f"{source}: {name!r} has unknown keys {sorted(bad)}; known: {sorted(_ENTRY_KEYS)}")
        files = tuple(_file(name, i, f) for i, f in enumerate(d.get("files", [])))
        out[name] = CatalogueEntry(
            name=name, title=str(d.get("title", name)), kind=str(d.get("kind", UNKNOWN)),
            page=str(d.get("page", UNKNOWN)), licence=str(d.get("licence", UNKNOWN)),
            citation=str(d.get("citation", UNKNOWN)), reader=str(d.get("reader", "none")), files=files,
            reader_path=str(d.get("reader_path", ".")), card=d.get("card"),
            facts_from=str(d.get("facts_from", UNKNOWN)), notes=" ".join(str(d.get("notes", "")).split()),
            fetchable=bool(d.get("fetchable", True)) and bool(files),
            not_fetchable=str(d.get("not_fetchable", "" if files else "no file is listed")), raw=dict(d))
    return out


def load_catalogue(path: str | Path | None = None) -> dict[str, CatalogueEntry]:
    """The catalogue at ``path`` (default: the repository's ``data/catalogue.toml``)."""
    p = Path(path) if path is not None else CATALOGUE_FILE
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"dataset catalogue {p} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
    return parse_catalogue(doc, str(p))


def get_entry(name: str, catalogue: Mapping[str, CatalogueEntry]) -> CatalogueEntry:
    if name not in catalogue:
        raise UnknownNameError(f"unknown dataset {name!r}; the catalogue lists: {', '.join(sorted(catalogue))}")
    return catalogue[name]
