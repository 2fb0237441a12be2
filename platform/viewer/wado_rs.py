"""WADO-RS payloads (PS3.18 10.4): multipart/related bodies streamed from disk, frames.

No transcoding: instances are sent in their stored transfer syntax. A client that asks
for one specific other syntax gets 406 (see acceptable_syntax); "*" or no syntax
parameter accepts the stored one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

import pydicom
from pydicom.encaps import generate_frames
from pydicom.uid import UID

CHUNK = 256 * 1024
DICOM = "application/dicom"
OCTETS = "application/octet-stream"

# Media type of a compressed frame, per transfer syntax (PS3.18 8.7.3.5.2).
FRAME_MEDIA_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}


def accepted(header: str) -> list[tuple[str, str, str]]:
    """(media type, part type, transfer syntax) of each Accept entry; '' when absent."""
    found = []
    for entry in (header or "*/*").split(","):
        parts = [p.strip() for p in entry.split(";")]
        params = {}
        for p in parts[1:]:
            key, _, value = p.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        found.append((parts[0].lower(), params.get("type", "").lower(), params.get("transfer-syntax", "")))
    return found


def acceptable_syntax(header: str, part_type: str, stored: Iterable[str]) -> bool:
    """Whether some Accept entry takes `part_type` parts in every stored syntax."""
    stored = set(stored)
    for media, ptype, syntax in accepted(header):
        if media not in ("multipart/related", "*/*", "multipart/*") and media != part_type:
            continue
        if ptype and ptype not in (part_type, "*/*") and media == "multipart/related":
            continue
        if not syntax or syntax == "*" or stored <= {syntax}:
            return True
    return False


def new_boundary() -> str:
    return f"osteolens-{secrets.token_hex(12)}"


def multipart_content_type(part_type: str, boundary: str) -> str:
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


def file_parts(paths: Iterable[Path], boundary: str) -> Iterator[bytes]:
    """One application/dicom part per file, each read in chunks (never whole)."""
    for path in paths:
        size = path.stat().st_size
        yield f"--{boundary}\r\nContent-Type: {DICOM}\r\nContent-Length: {size}\r\n\r\n".encode()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def byte_parts(parts: Iterable[tuple[str, bytes]], boundary: str) -> Iterator[bytes]:
    for content_type, data in parts:
        yield f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        yield data
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def frames(path: Path, numbers: list[int], *, want_raw: bool) -> list[tuple[str, bytes]]:
    """The requested frames (1-based) as (content type, bytes) parts.

    Compressed frames go out as stored unless the client only takes raw octets, in
    which case they are decoded (pydicom with the pylibjpeg plugins).
    """
    ds = pydicom.dcmread(path)
    syntax = UID(str(ds.file_meta.TransferSyntaxUID))
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if any(n < 1 or n > count for n in numbers):
        raise IndexError(f"frames are 1..{count}")
    if syntax.is_compressed and not want_raw:
        media = FRAME_MEDIA_TYPES.get(str(syntax), OCTETS)
        stored = list(generate_frames(ds.PixelData, number_of_frames=count))
        return [(f"{media}; transfer-syntax={syntax}", stored[n - 1]) for n in numbers]
    if syntax.is_compressed:
        pixels = ds.pixel_array
        arrays = [pixels] if count == 1 else [pixels[n - 1] for n in numbers]
        return [(OCTETS, a.astype(a.dtype.newbyteorder("<")).tobytes()) for a in arrays]
    size = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * int(ds.BitsAllocated) // 8
    data = ds.PixelData
    return [(OCTETS, data[(n - 1) * size : n * size]) for n in numbers]
