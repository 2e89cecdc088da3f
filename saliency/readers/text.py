"""Text decoding shared by every text reader: byte-order marks, UTF-16 sniffing, no silent garbage.

Rules (``encoding`` is the ``--encoding`` value; ``utf-8``, the default, means "detect, else UTF-8"):

1. A byte-order mark decides: ``EF BB BF`` UTF-8, ``FF FE`` UTF-16 LE, ``FE FF`` UTF-16 BE (UTF-32 marks
   likewise). The mark is removed. An explicit non-UTF ``encoding`` (e.g. ``latin-1``) is still
   overridden by a UTF-16/32 mark, because decoding such a file as latin-1 only yields NUL-riddled text.
2. Without a mark, text whose first 4 KiB has NUL bytes in every other position is UTF-16 (LE when the
   NULs are at odd offsets, BE when at even offsets) — exporters write it without a mark.
3. Otherwise the file is decoded with ``encoding``. Bytes that are not ``encoding`` raise
   :class:`ReaderError` naming file, line and byte, and suggesting ``--encoding``.
4. Decoded text that still holds NUL or other control characters (C0 except tab, line feed, carriage
   return, form feed) is not text (binary data or a wrong encoding): a
   :class:`ReaderError` naming the line. So an undecodable file is an error, never an empty table.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from saliency.errors import ConfigError, ReaderError

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
SNIFF_BYTES = 4096
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _norm(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ConfigError(f"unknown text encoding {encoding!r} (e.g. utf-8, latin-1, utf-16)") from exc


def detect_encoding(data: bytes, encoding: str = "utf-8") -> tuple[str, int]:
    """(codec name, length of the byte-order mark to skip) for ``data`` (see the module rules)."""
    asked = _norm(encoding)
    for bom, name in BOMS:
        if data.startswith(bom):
            if name == "utf-8" and asked not in ("utf-8", "utf-8-sig"):
                return asked, 0  # an explicit single-byte encoding wins over a UTF-8 mark's bytes
            return name, len(bom)
    if asked in ("utf-16", "utf-32"):
        return asked, 0  # no mark: Python's default (little endian)
    head = data[:SNIFF_BYTES]
    if len(head) >= 4 and asked in ("utf-8", "utf-8-sig"):
        odd, even = head[1::2].count(0), head[0::2].count(0)
        half = len(head) // 2
        if odd >= 0.4 * half and even == 0:
            return "utf-16-le", 0
        if even >= 0.4 * half and odd == 0:
            return "utf-16-be", 0
    return asked, 0


def decode_bytes(data: bytes, path: str | Path, encoding: str = "utf-8") -> tuple[str, str]:
    """Decode a whole text file: (text without byte-order mark, codec used). Raises ReaderError."""
    codec, skip = detect_encoding(data, encoding)
    try:
        text = data[skip:].decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: skip + exc.start].count(b"\n") + 1
        raise ReaderError(f"cannot decode as {codec} ({exc.reason} at byte {skip + exc.start}); pass the "
                          "file's encoding (e.g. --encoding latin-1 or utf-16)", path=path, line=line) from exc
    bad = _CONTROL.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ReaderError(f"control character {bad.group()!r} in the text after decoding as {codec}: a binary "
                          "file or a wrong encoding (pass --encoding)", path=path, line=line)
    return text, codec


def read_text(path: str | Path, encoding: str = "utf-8") -> tuple[str, str]:
    """Read and decode a text file (see :func:`decode_bytes`); unreadable files raise ReaderError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReaderError(f"cannot read ({exc.strerror or exc})", path=path) from exc
    return decode_bytes(data, path, encoding)
