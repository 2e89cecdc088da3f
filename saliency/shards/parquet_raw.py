"""A map's bytes straight from its Parquet column chunk: one ``pread``, no Arrow table.

:func:`saliency.shards.codec.write_parquet_maps` writes one row group per map, without compression,
dictionary or statistics, so the ``data`` value of a row group is its column chunk less a page header and a
4-byte length. Reading it through pyarrow builds a table per map (≈ 0.2 ms of CPU, holding the GIL part of
the time); here the chunk's place comes from the file metadata once, and each read is a ``pread`` (no file
position, so threads need no lock) and a parse of the page header (Thrift compact protocol).

Only that layout is accepted — the metadata (uncompressed, no dictionary page, one value, a required
BYTE_ARRAY column) and the page header (a v1 or v2 data page of one PLAIN value, no level bytes, sizes that
add up to the chunk) are checked; anything else gives None and the caller reads the map with pyarrow.
"""

from __future__ import annotations

import os

import pyarrow.parquet as pq

_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT, _UUID = range(14)
DATA_PAGE, DATA_PAGE_V2 = 0, 3   # parquet.thrift PageType
PLAIN = 0                        # parquet.thrift Encoding


class _Bad(ValueError):
    """Not the layout this reader accepts (or not Thrift at all)."""


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(b) or shift > 63:
            raise _Bad("varint")
        byte = b[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _zigzag(b: bytes, i: int) -> tuple[int, int]:
    v, i = _varint(b, i)
    return (v >> 1) ^ -(v & 1), i


def _value(b: bytes, i: int, t: int) -> tuple[object, int]:
    """A compact-protocol value of type ``t`` at ``i``: (value — a dict field id → value for structs, None for
    what is skipped —, position after it)."""
    if t in (_TRUE, _FALSE):
        return t == _TRUE, i
    if t == _BYTE:
        return b[i], i + 1
    if t in (_I16, _I32, _I64):
        return _zigzag(b, i)
    if t == _DOUBLE:
        return None, i + 8
    if t == _UUID:
        return None, i + 16
    if t == _BINARY:
        n, i = _varint(b, i)
        return None, i + n
    if t in (_LIST, _SET):
        head = b[i]
        i += 1
        n, et = head >> 4, head & 0x0F
        if n == 15:
            n, i = _varint(b, i)
        if et in (_TRUE, _FALSE):    # booleans in a collection take a byte each
            return None, i + n
        for _ in range(n):
            _, i = _value(b, i, et)
        return None, i
    if t == _MAP:
        n, i = _varint(b, i)
        if n:
            kt, vt = b[i] >> 4, b[i] & 0x0F
            i += 1
            for _ in range(n):
                _, i = _value(b, i, kt)
                _, i = _value(b, i, vt)
        return None, i
    if t == _STRUCT:
        fields: dict[int, object] = {}
        fid = 0
        while True:
            if i >= len(b):
                raise _Bad("struct runs past the chunk")
            head = b[i]
            i += 1
            if head == _STOP:
                return fields, i
            ft, delta = head & 0x0F, head >> 4
            if delta:
                fid += delta
            else:
                fid, i = _zigzag(b, i)
            fields[fid], i = _value(b, i, ft)
    raise _Bad(f"type {t}")


def chunk_locations(pf: pq.ParquetFile, column: str) -> list[tuple[int, int]] | None:
    """(offset, size) of ``column``'s chunk in each row group, or None where the file is not in the layout
    :func:`payload` reads (compression, a dictionary page, several values, an optional column)."""
    md = pf.metadata
    names = [md.schema.column(j).name for j in range(md.num_columns)]
    if column not in names:
        return None
    j = names.index(column)
    if md.schema.column(j).max_definition_level != 0 or md.schema.column(j).physical_type != "BYTE_ARRAY":
        return None
    out = []
    for r in range(md.num_row_groups):
        c = md.row_group(r).column(j)
        if (c.compression != "UNCOMPRESSED" or c.has_dictionary_page or c.num_values != 1
                or c.total_compressed_size != c.total_uncompressed_size):
            return None
        out.append((int(c.data_page_offset), int(c.total_compressed_size)))
    return out


def payload(chunk: bytes) -> memoryview | None:
    """The single PLAIN BYTE_ARRAY value of a column chunk that is one data page, or None where the chunk is
    anything else (its sizes must add up exactly)."""
    try:
        header, end = _value(chunk, 0, _STRUCT)
    except (_Bad, IndexError):
        return None
    kind, usize, csize = header.get(1), header.get(2), header.get(3)
    if kind == DATA_PAGE:
        page = header.get(5)
        ok = isinstance(page, dict) and page.get(1) == 1 and page.get(2) == PLAIN
    elif kind == DATA_PAGE_V2:
        page = header.get(8)
        ok = (isinstance(page, dict) and page.get(1) == 1 and page.get(4) == PLAIN and page.get(5, 0) == 0
              and page.get(6, 0) == 0)
    else:
        ok = False
    if not ok or usize != csize or end + usize != len(chunk) or usize < 4:
        return None
    n = int.from_bytes(chunk[end:end + 4], "little")
    if 4 + n != usize:
        return None
    return memoryview(chunk)[end + 4:]


def read_payload(fd: int, location: tuple[int, int]) -> memoryview | None:
    """The value of the chunk at ``location`` in the open file ``fd`` (one ``pread``), or None (see
    :func:`payload`; also for a short read)."""
    offset, size = location
    chunk = os.pread(fd, size, offset)
    return payload(chunk) if len(chunk) == size else None
