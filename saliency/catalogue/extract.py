"""Safe archive extraction (zip, tar, tar.gz/bz2/xz): nothing may land outside the target folder.

Every member's path is checked *before* anything is written: absolute paths, ``..`` components, drive
letters, and (tar) symbolic/hard links, devices and FIFOs are refused with :class:`ArchiveError` naming
the archive and the member. ``members``: only members under this prefix are extracted, with the prefix
removed (e.g. ``repo-master/data/stimuli/`` → the folder's own files).
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from saliency.errors import SaliencyError


class ArchiveError(SaliencyError):
    """An archive that cannot be extracted safely (a member escaping the target, a link, a bad file)."""


def _safe_relative(name: str, archive: Path) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or name.startswith(("/", "\\")) or (p.parts and ":" in p.parts[0]) or ".." in p.parts:
        raise ArchiveError(f"{archive}: member {name!r} would be written outside the target folder; refused")
    return p


def _plan(names: list[str], archive: Path, members: str | None) -> list[tuple[str, PurePosixPath]]:
    out = []
    prefix = PurePosixPath(members) if members else None
    for name in names:
        rel = _safe_relative(name, archive)
        if prefix is not None:
            if rel == prefix or prefix not in rel.parents:
                continue
            rel = rel.relative_to(prefix)
        if rel.parts:
            out.append((name, rel))
    if members and not out:
        raise ArchiveError(f"{archive}: no member under {members!r}")
    return out


def is_archive(path: Path) -> bool:
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def extract_archive(archive: str | Path, target: str | Path, *, members: str | None = None) -> int:
    """Extract ``archive`` into ``target`` (see the module docstring); returns the number of files written."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    n = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            for name, rel in _plan(list(infos), archive, members):
                dest = (root / rel).resolve()
                if root != dest and root not in dest.parents:
                    raise ArchiveError(f"{archive}: member {name!r} resolves outside the target folder; refused")
                if infos[name].is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(infos[name]) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
                n += 1
        return n
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            infos = {m.name: m for m in tf.getmembers()}
            plan = _plan(list(infos), archive, members)
            for name, _rel in plan:
                m = infos[name]
                if not (m.isfile() or m.isdir()):
                    raise ArchiveError(f"{archive}: member {name!r} is a link or special file; refused")
            for name, rel in plan:
                m = infos[name]
                dest = (root / rel).resolve()
                if root != dest and root not in dest.parents:
                    raise ArchiveError(f"{archive}: member {name!r} resolves outside the target folder; refused")
                if m.isdir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                if src is None:
                    raise ArchiveError(f"{archive}: cannot read member {name!r}")
                with src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
                n += 1
        return n
    raise ArchiveError(f"{archive}: not a zip or tar archive")
