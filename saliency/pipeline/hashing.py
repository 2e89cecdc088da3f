"""Content hashes for the stage cache: settings, files, and directory trees (code: :mod:`saliency.pipeline.closure`).

All hashes are SHA-256 hex digests of a canonical byte encoding, so equal content gives equal keys on
every machine. File hashes are memoised in a :class:`FileHashCache` keyed by (path, size, mtime_ns):
a re-run only ``stat``s unchanged inputs instead of reading them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from saliency.io import sha256_file

MANIFEST_NAME = "manifest.json"


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no whitespace); paths become strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def hash_settings(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()


class FileHashCache:
    """sha256 of files, memoised by (path, size, mtime_ns). ``entries`` is JSON-serialisable."""

    def __init__(self, entries: Mapping[str, Any] | None = None) -> None:
        self.entries: dict[str, list[Any]] = {k: list(v) for k, v in (entries or {}).items()}

    def sha256(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        hit = self.entries.get(key)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = sha256_file(path)
        self.entries[key] = [st.st_size, st.st_mtime_ns, digest]
        return digest


def list_files(root: Path) -> list[Path]:
    """Every regular file under ``root`` (or ``root`` itself), sorted, skipping hidden temporaries."""
    if root.is_file():
        return [root]
    if not root.exists():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath) / f for f in filenames if not f.startswith(".") and f != MANIFEST_NAME)
    return sorted(out)


def tree_digest(root: Path, cache: FileHashCache | None = None) -> tuple[str, dict[str, list[Any]]]:
    """Hash of a file or directory tree: relative paths + file hashes, plus a listing for verification.

    Returns (digest, {relative path: [size, mtime_ns, sha256]}).
    """
    cache = cache or FileHashCache()
    listing: dict[str, list[Any]] = {}
    h = hashlib.sha256()
    base = root if root.is_dir() else root.parent
    for f in list_files(root):
        rel = f.relative_to(base).as_posix()
        digest = cache.sha256(f)
        st = f.stat()
        listing[rel] = [st.st_size, st.st_mtime_ns, digest]
        h.update(rel.encode() + b"\0" + digest.encode() + b"\n")
    return h.hexdigest(), listing


def inputs_digest(paths: Iterable[Path], cache: FileHashCache) -> dict[str, str]:
    """Per declared input (file or directory): its tree digest. Missing inputs hash to ``"missing"``."""
    out = {}
    for p in paths:
        out[str(p)] = tree_digest(p, cache)[0] if p.exists() else "missing"
    return out


def listing_matches(root: Path, listing: Mapping[str, Any]) -> bool:
    """Cheap check that a stage's output is unchanged: same files with the same size and mtime."""
    files = list_files(root)
    if len(files) != len(listing):
        return False
    for f in files:
        rel = f.relative_to(root).as_posix()
        rec = listing.get(rel)
        if rec is None:
            return False
        st = f.stat()
        if st.st_size != rec[0] or st.st_mtime_ns != rec[1]:
            return False
    return True
