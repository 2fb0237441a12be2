"""A lean DICOM writer for the ingest hot path (native little-endian files).

pydicom's writer spends most of a slice's ingest time on per-element bookkeeping. Most
elements of a de-identified header were never touched, so they are still the raw bytes
read from the upload (pydicom's RawDataElement); this writer copies those as they are
and hands only the elements de-identification changed to pydicom's own element
writer. The result is byte-for-byte what a conformant writer produces: preamble,
"DICM", a group 0002 with its group length, then the dataset in tag order.
"""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element

# Explicit VR: these have two reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


def _explicit(group: int, element: int, vr: str, value: bytes) -> bytes:
    if vr in _LONG_VRS:
        return struct.pack("<HH2s2xI", group, element, vr.encode(), len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw  # UIDs pad with NUL


def file_meta_bytes(sop_class: str, sop_instance: str, transfer_syntax: str, implementation: str,
                    version_name: str) -> bytes:  # fmt: skip
    """Preamble, prefix and the File Meta Information group (always explicit VR LE)."""
    name = version_name.encode("ascii")
    name += b" " if len(name) % 2 else b""
    body = b"".join(
        (
            _explicit(0x0002, 0x0001, "OB", b"\x00\x01"),
            _explicit(0x0002, 0x0002, "UI", _uid(sop_class)),
            _explicit(0x0002, 0x0003, "UI", _uid(sop_instance)),
            _explicit(0x0002, 0x0010, "UI", _uid(transfer_syntax)),
            _explicit(0x0002, 0x0012, "UI", _uid(implementation)),
            _explicit(0x0002, 0x0013, "SH", name),
        )
    )
    length = _explicit(0x0002, 0x0000, "UL", struct.pack("<I", len(body)))
    return b"\0" * 128 + b"DICM" + length + body


_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)


def _simple_value(elem) -> bytes | None:
    """Encoded bytes of a plain-ASCII text element, or None to let pydicom do it (other
    character sets, numbers, binary values). Multi-values join with a backslash."""
    value = elem.value
    if value is None:
        return b""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple) or type(value).__name__ in ("MultiValue", "PersonName"):
        if type(value).__name__ == "PersonName":
            text = str(value)
        elif all(isinstance(v, str) for v in value):
            text = "\\".join(value)
        else:
            return None
    else:
        return None
    if not text.isascii():
        return None
    raw = text.encode("ascii")
    if len(raw) % 2:
        raw += b"\0" if elem.VR == "UI" else b" "
    return raw


def _pydicom_element(elem, implicit: bool, encodings) -> bytes:
    if elem.VR in _TEXT_VRS:
        raw = _simple_value(elem)
        if raw is not None:
            group, element = elem.tag >> 16, elem.tag & 0xFFFF
            if implicit:
                return struct.pack("<HHI", group, element, len(raw)) + raw
            return _explicit(group, element, elem.VR, raw)
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = implicit
    write_data_element(buffer, elem, encodings)
    return buffer.getvalue()


def dataset_body(ds: Dataset, *, implicit: bool, shared: dict[int, object] | None = None) -> bytes:
    """The dataset (no file meta) in little-endian ``implicit`` or explicit VR.

    ``shared`` maps tags to elements that are the same object in every file (the
    de-identification method sequence): they are encoded once and reused.
    """
    encodings = ds.get("SpecificCharacterSet") or "iso8859"
    parts = []
    for tag in sorted(ds.keys()):
        if (tag & 0xFFFF) == 0 and (tag >> 16) > 6:
            continue  # retired group lengths are not written
        elem = ds.get_item(tag)
        if shared and tag in shared and not elem.is_raw and elem.value is shared[tag]:
            parts.append(_encode_shared(tag, implicit, shared[tag]))
            continue
        if elem.is_raw and elem.length != 0xFFFFFFFF and (implicit or elem.VR):
            value = elem.value or b""
            group, element = tag >> 16, tag & 0xFFFF
            if implicit:
                parts.append(struct.pack("<HHI", group, element, len(value)) + value)
            else:
                parts.append(_explicit(group, element, elem.VR, value))
        else:
            parts.append(_pydicom_element(ds[tag], implicit, encodings))
    return b"".join(parts)


_SHARED_CACHE: dict[tuple[int, bool, int], bytes] = {}


def _encode_shared(tag: int, implicit: bool, value) -> bytes:
    key = (tag, implicit, id(value))
    if key not in _SHARED_CACHE:
        holder = Dataset()
        holder.add_new(tag, "SQ", value)
        _SHARED_CACHE[key] = _pydicom_element(holder[tag], implicit, "iso8859")
    return _SHARED_CACHE[key]
