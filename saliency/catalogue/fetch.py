"""Fetch a catalogue dataset: download (resumable, verified) → extract (safely) → a folder a reader reads.

Layout: ``<root>/<name>/`` holds the dataset (archives unpacked, plain files by name) and
``<root>/<name>/.saliency-fetch.json`` the record of what was fetched (URL, bytes, MD5, SHA-256 measured,
how it was verified); downloads are kept in ``<root>/.downloads/<name>/`` so an interrupted fetch resumes.
``root`` is ``--to DIR``, else :func:`cache_root`: ``$SALIENCY_DATA``, else platformdirs' user cache dir
for ``saliency`` + ``/datasets``. A folder whose record lists the same files is not fetched again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from saliency.catalogue.download import Downloaded, ProgressFn, download
from saliency.catalogue.entries import CatalogueEntry, RemoteFile
from saliency.catalogue.extract import extract_archive
from saliency.errors import ChecksumError, ConfigError
from saliency.io import write_json

RECORD = ".saliency-fetch.json"
DOWNLOADS = ".downloads"


def cache_root() -> Path:
    """``$SALIENCY_DATA``, else the platform's user cache dir for saliency (platformdirs) + ``datasets``."""
    env = os.environ.get("SALIENCY_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("saliency")) / "datasets"


@dataclass(frozen=True)
class FetchResult:
    """The dataset folder, the folder the entry's reader reads, the files fetched, whether it was cached."""

    entry: CatalogueEntry
    folder: Path
    reader_path: Path
    files: list[dict]
    cached: bool


def _record_matches(folder: Path, entry: CatalogueEntry) -> list[dict] | None:
    import json

    try:
        rec = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if rec.get("complete") and [f.get("url") for f in rec.get("files", [])] == [f.url for f in entry.files]:
        return list(rec["files"])
    return None


def fetch(entry: CatalogueEntry, to: str | Path | None = None, *, allow_unverified: bool = False,
          retries: int = 3, on_file: Callable[[int, int, str], None] | None = None,
          on_progress: ProgressFn | None = None) -> FetchResult:
    """Fetch ``entry`` into ``<to or cache_root()>/<name>/`` (module docstring).

    on_file(i, n, url) is called before each download, on_progress(done, total) during it.
    Raises ConfigError for entries that cannot be fetched, ChecksumError for unverifiable files without
    ``allow_unverified`` (checked for every file before anything is downloaded) and for mismatches.
    """
    if not entry.fetchable:
        raise ConfigError(f"{entry.name} cannot be fetched automatically: {entry.not_fetchable}")
    unverified = entry.unverified
    if unverified and not allow_unverified:
        raise ChecksumError(f"{entry.name}: no checksum is known for {', '.join(f.url for f in unverified)}; "
                            "pass --allow-unverified to fetch without verifying it")
    root = Path(to).expanduser() if to is not None else cache_root()
    folder = root / entry.name
    reader_path = (folder / entry.reader_path).resolve() if entry.reader_path != "." else folder
    cached = _record_matches(folder, entry)
    if cached is not None:
        return FetchResult(entry, folder, reader_path, cached, True)
    downloads = root / DOWNLOADS / entry.name
    got: list[tuple[Downloaded, RemoteFile]] = []
    for i, f in enumerate(entry.files):
        if on_file:
            on_file(i, len(entry.files), f.url)
        got.append((download(f, downloads, allow_unverified=allow_unverified, retries=retries,
                             on_progress=on_progress), f))
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for d, f in got:
        dest_dir = folder / f.to
        if f.extract:
            n = extract_archive(d.path, dest_dir, members=f.members)
        else:
            dest_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(d.path, dest_dir / d.path.name)
            n = 1
        records.append({"url": f.url, "file": d.path.name, "bytes": d.size, "md5": d.md5,
                        "sha256": d.sha256, "verified_by": d.verified_by, "files_written": n})
    write_json(folder / RECORD, {"dataset": entry.name, "complete": True, "files": records})
    return FetchResult(entry, folder, reader_path, records, False)
