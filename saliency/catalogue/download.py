"""Resumable HTTP downloads with checksum verification (standard library only).

``download(file, folder)`` writes ``folder/<name>.part`` and, once complete and verified, renames it to
``folder/<name>``. An interrupted transfer (connection lost, short read) keeps the ``.part`` file; the
next attempt (``retries`` within one call, or a later call) asks the server for the rest with an HTTP
``Range: bytes=N-`` header and appends to it. A server that ignores Range (status 200) restarts the file.
The finished file's MD5 and SHA-256 are computed in one pass; a digest that differs from a known one
deletes the file and raises :class:`ChecksumError`. ``on_progress(done_bytes, total_bytes | None)``
reports progress.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from saliency.catalogue.entries import RemoteFile
from saliency.errors import ChecksumError, SaliencyError

CHUNK = 1 << 20
ProgressFn = Callable[[int, "int | None"], None]


class DownloadError(SaliencyError):
    """A download failed (network, HTTP status); what was received is kept for resuming."""


@dataclass(frozen=True)
class Downloaded:
    """A verified download: where it is, its size and digests, how many bytes came from an earlier attempt."""

    path: Path
    size: int
    md5: str
    sha256: str
    resumed_from: int
    verified_by: str          # "sha256", "md5" or "unverified"


def digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) hex digests of a file, one read."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _attempt(url: str, part: Path, on_progress: ProgressFn | None, timeout: float) -> int:
    """One request; returns the byte offset it resumed from. Raises DownloadError when cut short."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "saliency-datasets", **(
        {"Range": f"bytes={have}-"} if have else {})})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:       # nothing left to send: the part file is complete
            return have
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    with resp:
        if have and resp.status != 206:
            have = 0                        # the server ignored Range: start again
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        done = have
        with open(part, "ab" if have else "wb") as fh:
            try:
                while chunk := resp.read(CHUNK):
                    fh.write(chunk)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done, total)
            except (http.client.IncompleteRead, OSError) as exc:
                raise DownloadError(f"{url}: transfer interrupted after {done} bytes ({type(exc).__name__}); "
                                    "run again to resume") from None
        if total is not None and done < total:
            raise DownloadError(f"{url}: transfer interrupted after {done} of {total} bytes; run again to resume")
    return have


def download(file: RemoteFile, folder: str | Path, *, allow_unverified: bool = False, retries: int = 3,
             timeout: float = 60.0, on_progress: ProgressFn | None = None) -> Downloaded:
    """Fetch ``file`` into ``folder`` (resuming a ``.part`` left by an earlier attempt), verify and rename.

    A file whose catalogue entry has no checksum is refused unless ``allow_unverified``.
    """
    if not file.url.startswith(("http://", "https://")):
        raise DownloadError(f"{file.url}: only http:// and https:// URLs are fetched")
    if not file.verifiable and not allow_unverified:
        raise ChecksumError(f"{file.url}: no checksum is known for this file, so it cannot be verified; "
                            "pass --allow-unverified to fetch it anyway")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / file.file_name
    part = dest.with_name(dest.name + ".part")
    if dest.is_file():
        md5, sha = digests(dest)
        if _matches(file, md5, sha):
            return Downloaded(dest, dest.stat().st_size, md5, sha, dest.stat().st_size, _how(file))
        dest.unlink()
    resumed_from = part.stat().st_size if part.exists() else 0
    last: DownloadError | None = None
    for _ in range(max(1, retries)):
        try:
            _attempt(file.url, part, on_progress, timeout)
            last = None
            break
        except DownloadError as exc:
            last = exc
    if last is not None:
        raise last
    md5, sha = digests(part)
    if not _matches(file, md5, sha):
        size = part.stat().st_size
        part.unlink()
        want = f"sha256 {file.sha256}" if file.sha256 else f"md5 {file.md5}"
        raise ChecksumError(f"{file.url}: checksum mismatch ({size} bytes, md5 {md5}, sha256 {sha}; the catalogue "
                            f"says {want}); the download was deleted")
    if file.size is not None and part.stat().st_size != file.size:
        n = part.stat().st_size
        part.unlink()
        raise ChecksumError(f"{file.url}: {n} bytes, the catalogue says {file.size}; the download was deleted")
    part.replace(dest)
    return Downloaded(dest, dest.stat().st_size, md5, sha, resumed_from, _how(file))


def _matches(file: RemoteFile, md5: str, sha: str) -> bool:
    return (file.sha256 is None or file.sha256 == sha) and (file.md5 is None or file.md5 == md5)


def _how(file: RemoteFile) -> str:
    return "sha256" if file.sha256 else "md5" if file.md5 else "unverified"
