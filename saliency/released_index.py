"""Where released models live and how a name finds one — without importing torch.

``saliency/released/<name>/`` (package data) holds one released model per folder; a folder with a
``spec.json`` anywhere else is accepted too. Loading the network is :mod:`saliency.models.released`;
this module only resolves names, so commands that merely need to know whether an argument names a
released model (``evaluate`` of a folder of maps, ``show``) do not pay torch's import.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from saliency.errors import UnknownNameError

SPEC_FILE = "spec.json"


def released_root() -> Path:
    """The folder holding one sub-folder per released model (``saliency/released``)."""
    return Path(str(resources.files("saliency"))) / "released"


def released_names() -> list[str]:
    root = released_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / SPEC_FILE).is_file())


def released_dir(name_or_dir: str | Path) -> Path:
    """The folder of a released model (a name under :func:`released_root`, or a folder with a spec);
    UnknownNameError listing the known names otherwise."""
    p = Path(name_or_dir)
    if p.is_dir() and (p / SPEC_FILE).is_file():
        return p
    d = released_root() / str(name_or_dir)
    if not (d / SPEC_FILE).is_file():
        raise UnknownNameError(f"unknown released model {str(name_or_dir)!r}; known: "
                               f"{', '.join(released_names()) or '(none)'}")
    return d


def is_released(name: str | Path) -> bool:
    """True if ``name`` is a released model name or a folder with a ``spec.json``."""
    try:
        released_dir(name)
    except UnknownNameError:
        return False
    return True
