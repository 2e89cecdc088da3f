"""Path-safe names: a run, pipeline or dataset name becomes a folder (``<runs_dir>/<name>``,
``runs/<pipeline>``, ``outputs/<dataset>``), so it must name exactly one folder inside its parent.

Refused (a :class:`ConfigError`, exit 3, naming the setting): empty names, ``.`` and ``..``, path
separators (``/`` and ``\\``), absolute paths, drive letters (``C:``), NUL and other control characters,
and names starting with ``-`` (they read as options). Letters of any script, digits, spaces, ``._-+=@,``
and the like are fine.
"""

from __future__ import annotations

import re

from saliency.errors import ConfigError

_BAD = re.compile(r"[/\\\x00-\x1f\x7f:]")


def check_name(value: object, what: str) -> str:
    """``value`` if it is a path-safe folder name, else :class:`ConfigError` naming ``what`` (e.g. ``--dataset``)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty name, got {value!r}")
    bad = _BAD.search(value)
    if value in (".", "..") or bad is not None or value.startswith("-") or value != value.strip():
        why = (f"contains {bad.group()!r}" if bad is not None else "is '.' or '..'" if value in (".", "..")
               else "starts with '-'" if value.startswith("-") else "has leading or trailing spaces")
        raise ConfigError(f"{what} {value!r} {why}: it names a folder, so it may not hold path separators, "
                          "'..', a drive or control characters (e.g. use 'osie-small')")
    return value
