"""Plain values read from pydicom's raw (still undecoded) elements.

Reading an element through pydicom decodes it in place, and a decoded element is then
written back through pydicom's per-element writer, several times slower than copying
the raw bytes (see dicomwrite). The ingest hot path reads a few sizes and codes from
every slice; these helpers take them from the raw bytes when that is unambiguous and
leave the element raw, and otherwise ask pydicom as before.
"""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset


def text(ds: Dataset, keyword: str) -> str:
    """A text attribute as one stripped string; '' when absent or empty."""
    elem = ds.get_item(keyword)
    if elem is None:
        return ""
    if elem.is_raw and elem.value is not None:
        raw = bytes(elem.value)
        # Other character sets and multiple values: pydicom's decoding decides.
        if raw.isascii() and b"\\" not in raw:
            return raw.decode("ascii").strip(" \x00").strip()
    return str(ds[keyword].value or "").strip()


def uint16(ds: Dataset, keyword: str) -> int | None:
    """A US attribute (Rows, Columns, BitsAllocated...); None when absent or empty."""
    elem = ds.get_item(keyword)
    if elem is None:
        return None
    if (
        elem.is_raw
        and elem.value is not None
        and len(elem.value) == 2
        and elem.VR in (None, "US")  # a file may declare another VR: pydicom decodes that
        and ds.original_encoding[1] is True
    ):
        return struct.unpack("<H", elem.value)[0]
    value = ds[keyword].value
    return None if value is None or value == "" else value
