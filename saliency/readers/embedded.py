"""Stimuli stored inside recording files (DOVES ``imgNNN.mat`` ``picture``): written out once as PNG.

``write_embedded_stimuli(meta, folder, fmt)`` looks, for an input format with an extractor in
:data:`EXTRACTORS` (by ``saliency ingest`` format name), at every stimulus whose recorded ``path`` is not an
image file, writes the picture to
``folder/<stimulus>.png`` (8-bit, deterministic bytes, atomic; an identical file is left untouched) and
returns the metadata pointing at the PNGs, so that maps, ``show``, baselines and training open an ordinary
image. The stimulus *name* (the table's key) does not change.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from saliency.fixations.table import DatasetMeta, StimulusInfo
from saliency.readers.stimuli import IMAGE_SUFFIXES


def _doves_picture(path: Path) -> np.ndarray:
    from saliency.readers.doves import read_doves_picture

    return read_doves_picture(path)


EXTRACTORS: dict[str, Callable[[Path], np.ndarray]] = {"doves": _doves_picture}


def _png_bytes(picture: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def write_embedded_stimuli(meta: DatasetMeta, folder: str | Path, fmt: str) -> tuple[DatasetMeta, list[str]]:
    """(metadata with PNG paths, names of the stimuli that were embedded); see the module docstring."""
    from saliency.errors import SchemaError
    from saliency.io import atomic_write

    folder = Path(folder)
    extract = EXTRACTORS.get(fmt)
    if extract is None:
        return meta, []
    stimuli = dict(meta.stimuli)
    done: list[str] = []
    for name, info in sorted(meta.stimuli.items()):
        if info.path is None:
            continue
        src = Path(info.path)
        if src.suffix.lower() in IMAGE_SUFFIXES or not src.is_file():
            continue
        picture = extract(src)
        if picture.shape[:2] != (info.height_px, info.width_px):
            raise SchemaError(f"{src}: embedded picture is {picture.shape[1]}×{picture.shape[0]} px but the "
                              f"table says {info.width_px}×{info.height_px}")
        data = _png_bytes(picture)
        dest = folder / f"{name}.png"
        if not (dest.is_file() and dest.read_bytes() == data):
            with atomic_write(dest) as fh:
                fh.write(data)
        stimuli[name] = StimulusInfo(name, info.width_px, info.height_px, str(dest))
        done.append(name)
    return (dataclasses.replace(meta, stimuli=stimuli) if done else meta), done
