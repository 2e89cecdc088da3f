"""Atomic, deterministic file output and checksums.

Every file the library writes goes through :func:`atomic_write`: written to a temporary file in the
same directory, flushed and fsynced, then renamed over the target, so a reader sees either the old
file or the complete new one, never a half-written one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for libraries that write by file name; rename on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _default_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``, flushed and fsynced on success, then renamed over ``path``."""
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def _default_permissions(path: str | Path) -> None:
    """Give a ``mkstemp`` file (created 0600) the mode a plain ``open`` would: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as deterministic JSON (sorted keys, 2-space indent, trailing newline)."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n"
    with atomic_write(path, "w") as fh:
        fh.write(text)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_toml(path: str | Path, what: str = "TOML file") -> dict[str, Any]:
    """Parse a UTF-8 TOML file; a missing, unreadable, binary or invalid file is a :class:`ConfigError`
    naming it (``what``: e.g. "pipeline file", used in the message)."""
    import tomllib

    from saliency.errors import ConfigError

    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text {what} (byte {exc.start}: {exc.reason})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "this folder") -> Iterator[Path]:
    """Hold ``<folder>/.lock`` (created exclusively; holds ``pid host time``) for the ``with`` block.

    A second holder gets a :class:`saliency.errors.FolderBusy` naming the holder's pid. A lock whose
    process is gone (same host, pid no longer running) is stale and taken over; a lock from another host
    is never taken over (the message says which file to remove)."""
    import socket
    import time

    from saliency.errors import FolderBusy

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    me = f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                text = lock.read_text()
                if not text and time.time() - lock.stat().st_mtime < 10:
                    text = f"0 {socket.gethostname()} now"  # being written by its holder this instant
                pid_s, host, since = [*text.split(), "?", "?", "?"][:3]
                pid = int(pid_s)
            except (OSError, ValueError):
                pid, host, since = -1, socket.gethostname(), "?"  # unreadable/garbled: a crashed writer
            if host == socket.gethostname() and not _pid_alive(pid):
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise FolderBusy(f"{folder}: {what} is in use by process {pid} on {host} (since {since}); wait for "
                             f"it to finish, or delete {lock} if that process is gone") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        break
    else:
        raise FolderBusy(f"{folder}: could not take {lock} (another process keeps re-creating it)")
    try:
        yield lock
    finally:
        try:
            if lock.read_text() == me:
                lock.unlink()
        except OSError:
            pass


def _pid_alive(pid: int) -> bool:
    if pid == 0:
        return True  # a lock being written right now
    if pid < 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
