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


_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (not DHT, JPG, DAC)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def header_size(head: bytes) -> tuple[int, int] | None:
    """(height_px, width_px) read straight from the first bytes of a baseline/progressive JPEG (its
    start-of-frame segment) or a PNG (IHDR), else None (other formats, or a header this does not follow:
    callers then ask PIL). The size PIL reports, ≈ 100× cheaper than ``Image.open``."""
    if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR" and len(head) >= 24:
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return (h, w) if h > 0 and w > 0 else None
    if not head.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:          # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # markers without a length
            i += 2
            continue
        length = int.from_bytes(head[i + 2:i + 4], "big")
        if marker in _JPEG_SOF:
            if i + 9 > len(head):
                return None
            h, w = int.from_bytes(head[i + 5:i + 7], "big"), int.from_bytes(head[i + 7:i + 9], "big")
            return (h, w) if h > 0 and w > 0 else None
        if marker == 0xDA or length < 2:  # scan data before any frame header, or a broken length
            return None
        i += 2 + length
    return None


def image_size(path: str | Path, data: bytes | None = None) -> tuple[int, int]:
    """(height_px, width_px) of an image file, from its header only: (rows, columns), the order of array
    shapes, used everywhere in the package for sizes. ``data``: the file's bytes when already read.
    JPEG and PNG headers are parsed directly (:func:`header_size`); anything else goes through PIL."""
    try:
        if data is None:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
        else:
            head = data
    except OSError as exc:
        raise ReaderError(f"not a readable image ({exc}); expected a JPEG/PNG/... stimulus", path=path) from exc
    size = header_size(head)
    if size is not None:
        return size
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as im:
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
