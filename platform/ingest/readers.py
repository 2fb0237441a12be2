"""Reading uploads: sniff by content, expand folders and zips, validate DICOM, and
convert NIfTI volumes and PNG/JPEG radiographs to DICOM so the rest of the platform
(viewer, WADO, thumbnails, workers) only ever deals with DICOM.

File names and extensions are never trusted: scanners write files with no extension,
and an upload may call anything ``.dcm``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageOps
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.pixels import pixel_array
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from ingest import archive, decode_sandbox, dicomwrite, limits, rawvalues, safe_decode
from ingest.errors import IngestError

DICOM, NIFTI, PNG, JPEG, ZIP = "dicom", "nifti", "png", "jpeg", "zip"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Explicit VR codes, for recognising a dataset written without preamble and meta header.
_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD",
    b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI",
    b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
}  # fmt: skip
log = logging.getLogger(__name__)
_IGNORED_NAMES = {"DICOMDIR", ".DS_Store", "Thumbs.db", "desktop.ini"}

# Decompression-bomb protection stays on whatever another module did to the global.
Image.MAX_IMAGE_PIXELS = limits.max_image_pixels() if Image.MAX_IMAGE_PIXELS else 89_478_485


@dataclass(frozen=True)
class Source:
    """One DICOM file ready to ingest; ``name`` is what messages call it."""

    path: Path
    name: str
    origin: str = DICOM  # dicom | nifti | raster: the Series.source_format


@dataclass(frozen=True)
class Input:
    path: Path
    name: str


# --- sniffing ---------------------------------------------------------------------------


def _is_nifti_header(head: bytes) -> bool:
    if len(head) >= 348:
        for order in "<>":
            if struct.unpack(f"{order}i", head[:4])[0] == 348 and head[344:348] == b"n+1\x00":
                return True
    if len(head) >= 540:
        for order in "<>":
            if struct.unpack(f"{order}i", head[:4])[0] == 540 and head[4:8] == b"n+2\x00":
                return True
    return False


def _is_bare_dicom(head: bytes) -> bool:
    """A dataset with no preamble: starts with a little-endian group 0002 or 0008 tag."""
    if len(head) < 8:
        return False
    group, element = struct.unpack("<HH", head[:4])
    if group not in (0x0002, 0x0008) or element > 0x00FF:
        return False
    if head[4:6] in _VRS:
        return True
    length = struct.unpack("<I", head[4:8])[0]  # implicit VR: a plausible length
    return 0 < length < 1024


def sniff(path: str | os.PathLike) -> str | None:
    """The kind of a file from its first bytes, or None when it is none we read."""
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return DICOM
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ZIP
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                inner = handle.read(544)
        except (OSError, EOFError, zlib.error):
            return None
        return NIFTI if _is_nifti_header(inner) else None
    if _is_nifti_header(head):
        return NIFTI
    if _is_bare_dicom(head):
        return DICOM
    return None


# --- gathering --------------------------------------------------------------------------


def _walk(folder: Path) -> list[Path]:
    files = []
    # Symlinked folders are not followed: a loop or an escape from the folder is worse
    # than a missed file.
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        files += [Path(dirpath) / f for f in sorted(filenames)]
    return files


def gather(
    inputs: list[Input], workdir: Path, warnings_out: list[str], *, modality_hint: str = ""
) -> list[Source]:
    """Every image in ``inputs`` as a DICOM Source; conversions are written in workdir."""
    sources: list[Source] = []
    not_images: list[str] = []
    zip_count = 0

    def visit(path: Path, name: str, inside_zip: bool) -> None:
        nonlocal zip_count
        base = os.path.basename(name)
        if base in _IGNORED_NAMES or base.startswith("._"):
            return
        if path.is_symlink() and inside_zip:  # pragma: no cover - archive never writes links
            raise IngestError(f"{name}: symbolic links are not accepted.", code="symlink")
        kind = sniff(path)
        if kind == DICOM:
            sources.append(Source(path, name))
        elif kind == NIFTI:
            # Conversions refuse the damage they know; anything else is still this file's.
            with safe_decode.guarded(lambda exc: safe_decode.unexpected(name, exc)):
                sources.extend(nifti_to_dicom(path, name, workdir, modality_hint=modality_hint))
        elif kind in (PNG, JPEG):
            with safe_decode.guarded(lambda exc: safe_decode.unexpected(name, exc)):
                sources.append(raster_to_dicom(path, name, workdir))
        elif kind == ZIP:
            if inside_zip:
                warnings_out.append(f"{name}: a zip inside a zip is not expanded; skipped.")
                return
            zip_count += 1
            target = workdir / f"zip-{zip_count}"
            for member_path, member_name in archive.extract_zip(path, target, display_name=name):
                visit(member_path, member_name, True)
        else:
            not_images.append(name)

    for item in inputs:
        path = Path(item.path)
        if path.is_dir():
            for file in _walk(path):
                visit(file, f"{item.name}/{file.relative_to(path)}", False)
        elif path.is_file():
            visit(path, item.name, False)
        else:
            raise IngestError(f"{item.name}: no such file or folder.", code="missing")
    if not_images:
        shown = ", ".join(not_images[:5]) + (
            f" and {len(not_images) - 5} more" if len(not_images) > 5 else ""
        )
        if not sources:
            raise IngestError(
                f"Not an image: {shown}. OsteoLens accepts DICOM, NIfTI (.nii, .nii.gz), PNG, JPEG "
                "and zip archives of them.",
                code="not_image",
            )
        warnings_out.append(f"Skipped files that are not images: {shown}.")
    if not sources:
        raise IngestError("The upload contains no images.", code="not_image")
    if len(sources) > limits.max_files():
        raise IngestError(f"Too many images in one upload ({len(sources)}; at most {limits.max_files()}).")
    return sources


# --- DICOM ------------------------------------------------------------------------------


@dataclass
class DicomFile:
    """A parsed DICOM file. For native (uncompressed) little-endian files the pixel data
    element is kept as the raw bytes it had in the file: it is written back unchanged
    after the de-identified header, so a 512x512 slice is never decoded nor re-encoded."""

    ds: Dataset
    pixel_element: bytes | memoryview | None = None  # None: the pixels are inside ds


_PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"
_FAST_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def read_dicom(source: Source) -> DicomFile | None:
    """Parse and validate one DICOM file; None when it holds no image (a DICOMDIR, a
    structured report). Raise IngestError when it is truncated or cannot be decoded."""
    _check_inflated_size(source)
    # Hostile input can fail anywhere in the parser, with any exception.
    with safe_decode.guarded(lambda exc: _unreadable(source, exc)):
        with open(source.path, "rb") as handle:
            ds = pydicom.dcmread(handle, force=True, stop_before_pixels=True)
            tail = handle.read()  # the pixel data element and whatever follows it
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    _check_transfer_syntax(syntax, source.name)
    if tail[:4] == _PIXEL_DATA_TAG and syntax in _FAST_SYNTAXES:
        element = _native_pixel_element(memoryview(tail), syntax == ImplicitVRLittleEndian, ds, source.name)
        if element is not None:
            _fill_missing_uids(ds, source)
            return DicomFile(ds, element)
    # Everything else (compressed, big endian, deflated, tags after the pixel data):
    # the general path, which decodes compressed pixel data to validate it.
    with safe_decode.guarded(lambda exc: _unreadable(source, exc)):
        ds = pydicom.dcmread(source.path, force=True)
        _ensure_transfer_syntax(ds)
        has_pixels = any(tag in ds for tag in PIXEL_TAGS)
        sop_class = ds.get("SOPClassUID") or getattr(
            getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""
        )
        sop_class_name = str(getattr(sop_class, "name", ""))
    _check_transfer_syntax(ds.file_meta.TransferSyntaxUID, source.name)
    if not has_pixels:
        if "Image Storage" in sop_class_name:
            # pydicom stops quietly where a file ends; an image without pixels was cut short.
            raise _unreadable(source, ValueError("an image with no pixel data"))
        return None
    with safe_decode.guarded(lambda exc: _unreadable(source, exc)):
        _fill_missing_uids(ds, source)
    check_pixels(ds, source.name, path=source.path)
    return DicomFile(ds)


def _check_inflated_size(source: Source) -> None:
    """A deflated dataset (transfer syntax 1.2.840.10008.1.2.1.99) is inflated whole by
    pydicom as it reads; count what it expands to first, without keeping it."""
    try:
        with open(source.path, "rb") as handle:
            head = handle.read(144)
            if head[128:132] != b"DICM":
                return  # no meta header: pydicom cannot see a deflated syntax either
            if head[132:138] == b"\x02\x00\x00\x00UL":
                # The meta group's length comes first: a byte search of the group spares
                # parsing it for every file that is not deflated (nearly all of them).
                group = handle.read(min(struct.unpack("<I", head[140:144])[0], 1 << 20))
                if str(DeflatedExplicitVRLittleEndian).encode() not in group:
                    return
            handle.seek(132)
            with safe_decode.guarded(lambda exc: _unreadable(source, exc)):
                meta = pydicom.filereader._read_file_meta_info(handle)
                syntax = meta.get("TransferSyntaxUID")
            if syntax == DeflatedExplicitVRLittleEndian:
                safe_decode.inflate_count(
                    handle,
                    wbits=-zlib.MAX_WBITS,
                    cap=limits.max_decoded_bytes(),
                    name=source.name,
                    what="the deflated dataset",
                )
    except IngestError as exc:
        if exc.code == "too_large":
            raise
        # A meta header the reader cannot parse: the full read below says so, in the same
        # words as for every other corrupt file.


def _check_transfer_syntax(syntax, name: str) -> None:
    """Only transfer syntaxes the standard defines: pydicom guesses an encoding for any
    other UID, and asking such a UID whether it is compressed raises."""
    if syntax is None:
        return
    try:
        known = pydicom.uid.UID(str(syntax)).is_transfer_syntax
    except Exception:  # noqa: BLE001 - a value that is not even a UID
        known = False
    if not known:
        shown = str(syntax)[:64]
        raise IngestError(
            f"{name}: unknown transfer syntax {shown!r}; the file is corrupt or uses a private encoding.",
            code="corrupt",
        )


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """A bare dataset (no preamble, no meta) says its encoding only by how it parsed."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    implicit, little = ds.original_encoding
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _unreadable(source: Source, exc: BaseException) -> IngestError:
    return IngestError(
        f"{source.name}: not a readable DICOM file; it is truncated or corrupt ({_short(exc)}).",
        code="corrupt",
    )


def _native_pixel_element(tail: memoryview, implicit: bool, ds: Dataset, name: str) -> memoryview | None:
    """The raw Pixel Data element at the start of ``tail``, length-checked against the
    image size; None to leave the file to the general path."""
    if implicit:
        header, length = 8, struct.unpack("<I", tail[4:8])[0]
    else:
        if bytes(tail[4:6]) not in (b"OB", b"OW"):
            return None
        header, length = 12, struct.unpack("<I", tail[8:12])[0]
    if length == 0xFFFFFFFF:
        return None  # encapsulated data in a native syntax: let the general path judge
    end = header + length
    if len(tail) > end and bytes(tail[end : end + 4]) != b"\xfc\xff\xfc\xff":
        return None  # elements after the pixel data (private groups 7FE1...) must be scrubbed
    check_pixels(ds, name, native_length=min(length, len(tail) - header))
    if len(tail) < end:
        raise IngestError(
            f"{name}: the file is truncated (pixel data has {len(tail) - header:,} of {length:,} bytes).",
            code="truncated",
        )
    return tail[:end]


def _short(exc: BaseException) -> str:
    return safe_decode.describe(exc)


def check_pixels(
    ds: Dataset, name: str, *, native_length: int | None = None, path: str | os.PathLike | None = None
) -> None:
    """A length check for native pixel data (cheap, and what truncation breaks);
    a full decode for compressed data, whose damage only decoding reveals.
    ``native_length``: the pixel data length when ds was read without its pixels.
    ``path``: the file ds was read from; given it, the decode runs in the sandbox
    (ingest.decode_sandbox) rather than in this process."""
    try:
        rows, columns = int(rawvalues.uint16(ds, "Rows")), int(rawvalues.uint16(ds, "Columns"))
        bits = int(rawvalues.uint16(ds, "BitsAllocated"))
        samples = int(rawvalues.uint16(ds, "SamplesPerPixel") or 1)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except safe_decode.PASS_THROUGH:
        raise
    except BaseException as exc:  # noqa: BLE001 - wrong VRs and odd lengths fail in many ways
        raise IngestError(
            f"{name}: the image size attributes are missing or invalid ({_short(exc)}).", code="corrupt"
        ) from exc
    if rows <= 0 or columns <= 0 or frames <= 0 or samples not in (1, 3, 4) or bits not in (1, 8, 16, 32, 64):
        raise IngestError(f"{name}: the image size attributes are invalid.", code="corrupt")
    try:
        transfer_syntax = ds.file_meta.TransferSyntaxUID
    except AttributeError:
        transfer_syntax = None
    _check_transfer_syntax(transfer_syntax, name)
    if native_length is not None or transfer_syntax is None or not transfer_syntax.is_compressed:
        if native_length is None and "PixelData" not in ds:
            return  # float pixel data: lengths are checked by the reader
        pixels = rows * columns * samples * frames
        expected = (pixels + 7) // 8 if bits == 1 else pixels * bits // 8
        actual = native_length if native_length is not None else len(ds.PixelData or b"")
        if actual < expected:
            raise IngestError(
                f"{name}: the file is truncated (pixel data has {actual:,} of {expected:,} bytes).",
                code="truncated",
            )
        return
    # Decoding allocates what the header declares (and decoders trust their own
    # codestream headers): refuse sizes no image has before any decoder runs.
    decoded = rows * columns * samples * frames * max(bits, 8) // 8
    if decoded > limits.max_decoded_bytes():
        raise IngestError(
            f"{name}: the image declares {decoded:,} bytes of pixels; at most "
            f"{limits.max_decoded_bytes():,} are accepted.",
            code="too_large",
        )
    if transfer_syntax != RLELossless:
        # JPEG, JPEG-LS and JPEG 2000 codestreams all end with the marker FFD9; some
        # decoders quietly zero-fill a cut stream, so the end is checked explicitly.
        with safe_decode.guarded(
            lambda exc: IngestError(
                f"{name}: the compressed pixel data is truncated or corrupt ({_short(exc)}).",
                code="truncated",
            )
        ):
            found = list(generate_frames(ds.PixelData, number_of_frames=frames))
        ends = [frame.rstrip(b"\x00")[-2:] for frame in found]
        if len(ends) != frames or any(end != b"\xff\xd9" for end in ends):
            raise IngestError(
                f"{name}: the compressed pixel data cannot be decoded ({transfer_syntax.name}); "
                "the file is truncated or corrupt (a frame has no end-of-image marker).",
                code="truncated",
            )
        for frame in found:
            _check_codestream_size(frame, rows, columns, name)
    cannot_decode = lambda reason: IngestError(  # noqa: E731
        f"{name}: the compressed pixel data cannot be decoded ({transfer_syntax.name}); "
        f"the file is truncated or corrupt ({reason}).",
        code="truncated",
    )
    if path is not None and limits.decode_sandbox_enabled():
        shape = _decode_in_sandbox(path, name, cannot_decode)
    else:
        # A corrupt stream can make a native decoder panic (a BaseException): see safe_decode.
        with safe_decode.guarded(lambda exc: cannot_decode(_short(exc))):
            shape = pixel_array(ds).shape
    dims = shape[-2:] if samples == 1 else shape[-3:-1]
    if tuple(dims) != (rows, columns):
        raise IngestError(f"{name}: decoded image size does not match its header.", code="corrupt")


def _decode_in_sandbox(
    path, name: str, cannot_decode, *, kind: str = "dicom", what: str = "the compressed pixel data"
):
    """The decoded shape of the file at ``path``, decoded in a bounded child process.
    A decoder's own error is ``cannot_decode(reason)`` (None: return None and let the
    caller decode in-process, where the error is an exception like any other); a crash,
    a run past the time limits or past the memory budget is refused as unsafe."""
    fault = limits.decode_sandbox_fault()
    if fault not in decode_sandbox.FAULTS:
        raise ValueError(f"INGEST_DECODE_SANDBOX_FAULT must be one of {decode_sandbox.FAULTS}")
    job = decode_sandbox.Job(
        str(path), limits.decode_cpu_seconds(), fault, kind=kind, max_pixels=Image.MAX_IMAGE_PIXELS or 0
    )
    outcome = decode_sandbox.sandbox(limits.decode_sandbox_processes()).run(
        job, timeout=limits.decode_timeout_seconds(), memory_bytes=limits.decode_memory_bytes()
    )
    if outcome.kind == decode_sandbox.OK:
        return tuple(outcome.detail)
    if outcome.kind == decode_sandbox.FAILED:
        if cannot_decode is None:
            return None
        raise cannot_decode(outcome.detail)
    reason = {
        decode_sandbox.MEMORY: f"decoding needs more than {limits.decode_memory_bytes():,} bytes of memory",
        "timeout": f"decoding took longer than {limits.decode_timeout_seconds():g} s",
    }.get(outcome.kind, outcome.detail)
    log.warning("ingest: %s refused by the decode sandbox: %s (%s)", name, outcome.kind, outcome.detail)
    raise IngestError(
        f"{name}: {what} could not be decoded safely: {reason}; the file is refused.",
        code=f"decode_{outcome.kind}",
    )


def _codestream_size(frame: bytes) -> tuple[int, int] | None:
    """(rows, columns) a JPEG, JPEG-LS or JPEG 2000 codestream declares, from its frame
    header (SOFn, SOF55 or SIZ); None when none is found near the start."""
    if frame[:4] == b"\xff\x4f\xff\x51":  # J2K: SOC, then SIZ (Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz)
        if len(frame) < 24:
            return None
        xsiz, ysiz, xosiz, yosiz = struct.unpack(">IIII", frame[8:24])
        return max(ysiz - yosiz, 0), max(xsiz - xosiz, 0)
    if frame[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(frame) and position < 65536:
        if frame[position] != 0xFF:
            return None
        marker = frame[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = struct.unpack(">H", frame[position + 2 : position + 4])[0]
        # SOF0-15 except DHT (C4), JPG (C8), DAC (CC); SOF55 is JPEG-LS.
        if (0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)) or marker == 0xF7:
            if position + 9 > len(frame):
                return None
            height, width = struct.unpack(">HH", frame[position + 5 : position + 9])
            return height, width
        position += 2 + length
    return None


def _check_codestream_size(frame: bytes, rows: int, columns: int, name: str) -> None:
    """Decoders size their output from the codestream, not from the DICOM header: a
    stream claiming 65535 x 65535 in a 64 x 64 image would allocate gigabytes."""
    size = _codestream_size(bytes(frame[:4096]))
    if size is None:
        return
    height, width = size
    if height > rows or width > columns:
        raise IngestError(
            f"{name}: the compressed pixel data declares {width} x {height} pixels but the header "
            f"{columns} x {rows}; the file is corrupt.",
            code="corrupt",
        )


def _derived_uid(text: str) -> str:
    # A valid UID for a value the file lacks; de-identification replaces it like any other.
    return f"2.25.{int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], 'big')}"


def _fill_missing_uids(ds: Dataset, source: Source) -> None:
    """Some exports leave the UIDs in the dataset empty (only the file meta has the
    instance UID). Fill them deterministically from the header, so re-uploading the
    same files still lands in the same study and series."""
    meta = getattr(ds, "file_meta", None)
    if not str(ds.get("SOPClassUID", "") or ""):
        if meta is None or not meta.get("MediaStorageSOPClassUID"):
            raise IngestError(
                f"{source.name}: the file does not say what kind of image it is (no SOP Class UID)."
            )
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
    if not str(ds.get("SOPInstanceUID", "") or ""):
        if meta is not None and meta.get("MediaStorageSOPInstanceUID"):
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        else:
            ds.SOPInstanceUID = _derived_uid("sop:" + _file_digest(source.path))

    def field(keyword: str) -> str:
        return str(ds.get(keyword, "") or "")

    if field("StudyInstanceUID") and field("SeriesInstanceUID"):
        return
    study_key = "|".join(
        field(k) for k in ("PatientID", "PatientName", "StudyDate", "StudyTime", "AccessionNumber", "StudyID")
    )
    if not field("StudyInstanceUID"):
        ds.StudyInstanceUID = _derived_uid("study:" + study_key)
    if not field("SeriesInstanceUID"):
        series_key = "|".join(
            field(k)
            for k in (
                "Modality",
                "SeriesNumber",
                "SeriesDescription",
                "FrameOfReferenceUID",
                "SeriesDate",
                "SeriesTime",
            )
        )
        ds.SeriesInstanceUID = _derived_uid(f"series:{study_key}|{series_key}")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- conversions ------------------------------------------------------------------------


def _new_dataset(sop_class: str, sop_uid: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = ""
    ds.PatientID = ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = ""
    ds.StudyTime = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.SeriesNumber = 1
    return ds


def _read_limited(path: Path, name: str) -> bytes:
    """The file's bytes, gunzipped if need be, and no more of them than its header says
    it holds: the header is read and judged first (shape x data type against the
    limits), then at most that many bytes are inflated. A gzip bomb is refused after
    reading 540 bytes, and a file padded past its data is never expanded further."""
    import nibabel as nib

    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    corrupt = lambda exc: IngestError(  # noqa: E731
        f"{name}: the NIfTI file is truncated or corrupt ({_short(exc)}).", code="truncated"
    )
    with safe_decode.guarded(corrupt), opener(path, "rb") as handle:
        head = handle.read(540)
        nifti2 = struct.unpack("<i", head[:4])[0] in (540, 469893120)
        header = (nib.Nifti2Header if nifti2 else nib.Nifti1Header).from_fileobj(io.BytesIO(head))
        shape = tuple(int(n) for n in header.get_data_shape())
        itemsize = header.get_data_dtype().itemsize
        offset = int(header.get_data_offset())
        voxels = math.prod(shape)
        if voxels > limits.max_nifti_voxels() or voxels * itemsize > limits.max_decoded_bytes():
            raise IngestError(
                f"{name}: the NIfTI volume declares {' x '.join(map(str, shape))} voxels "
                f"({voxels * itemsize:,} bytes); at most {limits.max_nifti_voxels():,} voxels and "
                f"{limits.max_decoded_bytes():,} bytes are accepted.",
                code="too_large",
            )
        if offset > limits.max_decoded_bytes():
            raise IngestError(
                f"{name}: the NIfTI header is corrupt (data offset {offset:,}).", code="corrupt"
            )
        # Extensions sit between the header and the data offset; nothing after the data is read.
        data = head[: offset + voxels * itemsize] + handle.read(
            max(offset + voxels * itemsize - len(head), 0)
        )
    return data


def nifti_to_dicom(path: Path, name: str, workdir: Path, *, modality_hint: str = "") -> list[Source]:
    """A NIfTI volume as a series of single-frame CT (or MR) images in LPS order, with
    geometry (position, orientation, spacing) taken from the affine."""
    import nibabel as nib
    from nibabel import orientations as ornt

    raw = _read_limited(path, name)
    try:
        klass = nib.Nifti2Image if struct.unpack("<i", raw[:4])[0] in (540, 469893120) else nib.Nifti1Image
        img = klass.from_bytes(raw)
        # Rows run anterior->posterior and columns right->left as on a scanner's axial
        # slices; slices ascend towards the head.
        transform = ornt.ornt_transform(ornt.io_orientation(img.affine), ornt.axcodes2ornt(("L", "P", "S")))
        img = img.as_reoriented(transform)
        data = np.asanyarray(img.dataobj)
    except safe_decode.PASS_THROUGH:
        raise
    except BaseException as exc:  # noqa: BLE001 - see safe_decode
        raise IngestError(
            f"{name}: the NIfTI file is truncated or corrupt ({_short(exc)}).", code="truncated"
        ) from exc
    del raw
    if data.ndim == 4:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or min(data.shape) < 1:
        raise IngestError(
            f"{name}: a NIfTI image must be 2-D or 3-D (got shape {data.shape}).", code="corrupt"
        )
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise IngestError(f"{name}: unsupported NIfTI data type {data.dtype}.", code="corrupt")
    # No copies of the volume for its range (two copies of a float volume were most of
    # a conversion's memory); integers are all finite.
    if data.dtype.kind != "f":
        finite = None
        lo, hi = float(data.min()), float(data.max())
    elif (finite := np.isfinite(data)).any():
        lo = float(np.min(data, where=finite, initial=np.inf))
        hi = float(np.max(data, where=finite, initial=-np.inf))
    else:
        lo = hi = 0.0
    modality = modality_hint or ("CT" if lo <= -500 else "MR")
    if finite is None:
        integral = True
    else:
        with np.errstate(invalid="ignore"):  # inf and NaN are left out by ``where``
            integral = bool(np.all(np.mod(data, 1) == 0, where=finite))
    if integral and -32768 <= lo and hi <= 32767:
        slope, intercept = 1.0, 0.0
    else:  # floats or a wide range: linear map onto int16
        slope = max((hi - lo) / 65534.0, 1e-12)
        intercept = lo + 32767 * slope
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ img.affine  # RAS+ (NIfTI) -> LPS (DICOM)
    col_step, row_step, slice_step = affine[:3, 0], affine[:3, 1], affine[:3, 2]
    spacing_col, spacing_row = float(np.linalg.norm(col_step)), float(np.linalg.norm(row_step))
    thickness = float(np.linalg.norm(slice_step))
    orientation = [*(col_step / spacing_col), *(row_step / spacing_row)]
    digest = hashlib.sha256(f"{name}".encode() + _file_digest(path).encode()).hexdigest()
    study_uid, series_uid, frame_uid = (
        _derived_uid(f"nifti-{k}:{digest}") for k in ("study", "series", "frame")
    )
    sop_class = CT_IMAGE_STORAGE if modality == "CT" else MR_IMAGE_STORAGE
    out_dir = workdir / f"nifti-{digest[:16]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = []
    for k in range(data.shape[2]):
        plane = np.nan_to_num(data[:, :, k].T.astype(np.float64))
        stored = np.rint((plane - intercept) / slope).clip(-32768, 32767).astype(np.int16)
        ds = _new_dataset(sop_class, _derived_uid(f"nifti-sop:{digest}:{k}"))
        ds.Modality = modality
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.SeriesDescription = f"Converted from NIfTI ({modality})"
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        position = affine[:3, :3] @ np.array([0.0, 0.0, float(k)]) + affine[:3, 3]
        ds.ImagePositionPatient = [round(float(v), 4) for v in position]
        ds.ImageOrientationPatient = [round(float(v), 6) for v in orientation]
        ds.PixelSpacing = [round(spacing_row, 6), round(spacing_col, 6)]
        ds.SliceThickness = round(thickness, 6)
        ds.PositionReferenceIndicator = ""
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = stored.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", f"{intercept:.10g}"
        if modality == "CT":
            ds.RescaleType = "HU"
            ds.WindowCenter, ds.WindowWidth = 400, 1800  # bone window: this is a bone-tumour platform
        else:
            ds.WindowCenter, ds.WindowWidth = f"{(lo + hi) / 2:.6g}", f"{max(hi - lo, 1):.6g}"
        ds.PixelData = stored.tobytes()
        target = out_dir / f"{k:05d}.dcm"
        ds.save_as(target, enforce_file_format=True)
        sources.append(Source(target, f"{name} slice {k + 1}", origin="nifti"))
    return sources


def raster_to_dicom(path: Path, name: str, workdir: Path) -> Source:
    """A PNG/JPEG radiograph as a Secondary Capture image (modality OT)."""
    if limits.decode_sandbox_enabled():
        # Pillow's C decoders meet the file first in a bounded child: a crash or a
        # runaway there refuses the file; a plain decode error is worded below.
        _decode_in_sandbox(path, name, None, kind="raster", what="the image")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its pixel limit; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise IngestError(
            f"{name}: the image has too many pixels (over {Image.MAX_IMAGE_PIXELS:,}); refused as a "
            "possible decompression bomb.",
            code="bomb",
        ) from exc
    except safe_decode.PASS_THROUGH:
        raise
    except BaseException as exc:  # noqa: BLE001 - see safe_decode
        raise IngestError(
            f"{name}: the image is truncated or corrupt ({_short(exc)}).", code="truncated"
        ) from exc
    if image.mode in ("I;16", "I;16L", "I;16B", "I"):
        pixels = np.asarray(image).clip(0, 65535).astype(np.uint16)
    elif image.mode in ("L", "1", "P", "LA", "PA"):
        pixels = np.asarray(image.convert("L"))
    else:
        rgb = np.asarray(image.convert("RGB"))
        same = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
        pixels = rgb[..., 0].copy() if same else rgb
    digest = hashlib.sha256(_file_digest(path).encode()).hexdigest()
    ds = _new_dataset(SECONDARY_CAPTURE_STORAGE, _derived_uid(f"raster-sop:{digest}"))
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.StudyInstanceUID = _derived_uid(f"raster-study:{digest}")
    ds.SeriesInstanceUID = _derived_uid(f"raster-series:{digest}")
    ds.SeriesDescription = f"Converted from {'PNG' if sniff(path) == PNG else 'JPEG'}"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.Rows, ds.Columns = pixels.shape[:2]
    if pixels.ndim == 3:
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    else:
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    bits = 16 if pixels.dtype == np.uint16 else 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    data = pixels.tobytes()
    ds.PixelData = data + (b"\x00" if len(data) % 2 else b"")
    target = workdir / f"raster-{digest[:16]}.dcm"
    ds.save_as(target, enforce_file_format=True)
    return Source(target, name, origin="raster")


def dataset_bytes(ds: Dataset) -> bytes:
    """The dataset as a DICOM file (preamble, meta, data) in its own transfer syntax."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def encode(
    dicom: DicomFile, *, shared: dict | None = None, version_name: str = ""
) -> list[bytes | memoryview]:
    """The file's bytes as chunks: the (de-identified) dataset, then the untouched raw
    pixel element when there is one. Pixel Data is the last element, so appending it
    keeps the dataset in tag order. ``shared``: see dicomwrite.dataset_body."""
    if dicom.pixel_element is None:
        return [dataset_bytes(dicom.ds)]
    # A fresh meta group: the uploaded one names the sending hosts (AE titles).
    ds, syntax = dicom.ds, dicom.ds.file_meta.TransferSyntaxUID
    head = dicomwrite.file_meta_bytes(
        str(ds.SOPClassUID), str(ds.SOPInstanceUID), str(syntax), PYDICOM_IMPLEMENTATION_UID, version_name
    )
    body = dicomwrite.dataset_body(ds, implicit=syntax == ImplicitVRLittleEndian, shared=shared)
    return [head + body, dicom.pixel_element]
