"""Stimulus images: names and sizes read from image headers (PIL opens lazily: no pixel is decoded).

The table's ``stimulus`` key is the image *file name* (``1001.jpg``); :func:`scan_stimuli` maps each
name to a :class:`~saliency.fixations.table.StimulusInfo` with its width, height and path.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from saliency.errors import ReaderError
from saliency.fixations.table import StimulusInfo

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp")


def image_size(path: str | Path) -> tuple[int, int]:
    """(height_px, width_px) of an image file, from its header only: (rows, columns), the order of array
    shapes, used everywhere in the package for sizes."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.height), int(im.width)
    except (OSError, UnidentifiedImageError) as exc:
        raise ReaderError(f"not a readable image ({exc}); expected a JPEG/PNG/... stimulus", path=path) from exc


def list_images(directory: str | Path) -> list[Path]:
    """Image files directly inside ``directory``, sorted by name (hidden files ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReaderError("stimulus directory does not exist; expected a folder of images", path=directory)
    return sorted(p for p in directory.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())


def scan_stimuli(directory: str | Path, *, workers: int = 8) -> dict[str, StimulusInfo]:
    """``{file name: StimulusInfo}`` for every image in ``directory`` (sizes from headers, threaded).

    ``StimulusInfo.path`` is absolute, so later stages open the image from any working directory.
    """
    paths = list_images(directory)
    if not paths:
        raise ReaderError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found; expected the stimulus images",
                          path=directory)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        sizes = list(pool.map(image_size, paths))
    return {p.name: StimulusInfo(p.name, w, h, str(p.resolve())) for p, (h, w) in zip(paths, sizes, strict=True)}


def fixed_size_stimuli(names: list[str] | set[str], width_px: int, height_px: int) -> dict[str, StimulusInfo]:
    """Stimuli whose images are not at hand but whose size is known (e.g. from export columns)."""
    return {n: StimulusInfo(n, int(width_px), int(height_px)) for n in sorted(names)}
