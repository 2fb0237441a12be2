"""A seeded mutator of upload files, shared by the fuzz test (tests/platform/ingest/
test_fuzz_uploads.py, in `make test`) and the long fuzz run (tests/bench/fuzz_uploads.py).

It starts from real and phantom files of every kind OsteoLens reads (DICOM native,
JPEG, JPEG 2000, RLE, deflated, big endian, implicit; NIfTI; PNG; JPEG; zip) and damages
them the ways the penetration test did: bit flips, truncation, cut and repeated byte
ranges, hostile values in place of element values, corrupt VRs and lengths, unknown or
mismatched transfer syntaxes, and gzip or zip wrappers around the result. Everything
is drawn from one ``random.Random(seed)``: a failure names the seed and index that
reproduce it.
"""

from __future__ import annotations

import gzip
import io
import random
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tests.platform.ingest import hostile
from tests.platform.ingest.helpers import ct_dataset, dicom_bytes

# pydicom's own test files that ship with pydicom (none is downloaded).
PYDICOM_FILES = (
    "CT_small.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_jpeg.dcm",
    "SC_rgb_small_odd_jpeg.dcm",
    "JPEG2000.dcm",
    "SC_rgb_rle.dcm",
    "image_dfl.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
)
TRANSFER_SYNTAXES = (
    b"1.2.840.10008.1.2",  # implicit little endian
    b"1.2.840.10008.1.2.2",  # explicit big endian
    b"1.2.840.10008.1.2.1.99",  # deflated
    b"1.2.840.10008.1.2.4.50",  # JPEG baseline
    b"1.2.840.10008.1.2.4.80",  # JPEG-LS
    b"1.2.840.10008.1.2.4.90",  # JPEG 2000
    b"1.2.840.10008.1.2.5",  # RLE
    b"1.2.840.10008.1.2.4.201",  # HTJ2K
    b"1.2.840.10008.1.2.4.100",  # MPEG-2
    b"1.2.3.4.5.6.7.8.9",  # private
    b"not-a-uid",
    b"",
)
HOSTILE_VALUES = (
    b"9e99",
    b"-9e99",
    b"1e309",
    b"NaN",
    b"-1",
    b"65536",
    b"4294967296",
    b"\xff\xfe\xfd\xfc",
    b"\x00" * 8,
    b"1\\2\\3\\4\\5\\6\\7",
    b"A" * 65,
    b"20241301",
    b"../../etc/passwd",
    b"\x1b[31m",
)
VRS = (b"US", b"SS", b"UL", b"FD", b"FL", b"SQ", b"OB", b"OW", b"UN", b"AT", b"DS", b"IS", b"UI", b"XX")
NAMES = ("IM0001", "scan.dcm", "ct.nii.gz", "xray.png", "photo.jpg", "series.zip", "ÜBER ärger.dcm",
         "a" * 200 + ".dcm", "..\\..\\evil.dcm", "space name .dcm", "no-extension")  # fmt: skip


@dataclass
class Seed:
    name: str
    data: bytes
    kind: str  # dicom | nifti | png | jpeg | zip


@dataclass
class Mutant:
    name: str
    data: bytes
    steps: list[str] = field(default_factory=list)  # what was done, for the failure message


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((np.arange(48 * 40) % 251).astype(np.uint8).reshape(48, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((np.arange(32 * 32 * 3) % 253).astype(np.uint8).reshape(32, 32, 3)).save(buffer, "JPEG")
    return buffer.getvalue()


def _jpeg_ls_slice() -> bytes:
    from pydicom.uid import JPEGLSLossless

    ds = ct_dataset(3, size=32)
    ds.compress(JPEGLSLossless)
    return dicom_bytes(ds)


def seeds(real_data=None) -> list[Seed]:
    """The starting files; ``real_data``: tests/data/real, for a real scanner slice."""
    corpus = [
        Seed("IM0000", dicom_bytes(ct_dataset(0)), "dicom"),
        Seed("IM0003-jls", _jpeg_ls_slice(), "dicom"),
        Seed("ct.nii.gz", hostile.nifti_gz((24, 20, 3)), "nifti"),
        Seed("xray.png", _png(), "png"),
        Seed("photo.jpg", _jpeg(), "jpeg"),
        Seed("series.zip", hostile.zip_of({"a/IM1": dicom_bytes(ct_dataset(1)), "a/IM2": dicom_bytes(ct_dataset(2))}), "zip"),
    ]  # fmt: skip
    corpus += [Seed(name, hostile.pydicom_file(name), "dicom") for name in PYDICOM_FILES]
    if real_data is not None:
        first = sorted((real_data / "ct_dicom_series_j2k").iterdir())[0]
        corpus.append(Seed("CT-real-j2k", first.read_bytes(), "dicom"))
    return corpus


# --- byte-level damage, any kind of file ---------------------------------------------------


def flip_bits(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    count = rng.choice((1, 2, 4, 8, 16, 32))
    start = rng.randrange(len(out) // 2) if rng.random() < 0.5 else 0  # often in the pixel half
    for _ in range(count):
        index = rng.randrange(start, len(out))
        out[index] ^= 1 << rng.randrange(8)
    return bytes(out), f"flip {count} bits"


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    cut = rng.choice((rng.randrange(len(data)), len(data) - rng.randrange(1, 64), rng.randrange(200)))
    return data[: max(cut, 0)], f"truncate at {cut}"


def cut_range(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randrange(1, 512))
    return data[:start] + data[end:], f"cut {start}:{end}"


def repeat_range(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randrange(1, 256))
    times = rng.choice((2, 3, 50))
    return data[:start] + data[start:end] * times + data[end:], f"repeat {start}:{end} x{times}"


# --- DICOM-aware damage ------------------------------------------------------------------------


def _explicit_elements(data: bytes) -> list[int]:
    """Offsets of what look like explicit-VR element headers (tag, then a known VR)."""
    found = []
    vrs = {vr for vr in VRS if vr != b"XX"} | {b"CS", b"LO", b"SH", b"PN", b"DA", b"TM", b"LT", b"ST"}
    for at in range(132, min(len(data), 8192) - 8):
        if data[at + 4 : at + 6] in vrs and data[at + 1] in (0x00, 0x7F) and data[at] % 2 == 0:
            found.append(at)
    return found


def swap_value(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A short-VR element's value replaced by a hostile one (length field kept right)."""
    elements = [
        a for a in _explicit_elements(data) if data[a + 4 : a + 6] not in (b"OB", b"OW", b"SQ", b"UN")
    ]
    if not elements:
        return flip_bits(rng, data)
    at = rng.choice(elements)
    length = struct.unpack("<H", data[at + 6 : at + 8])[0]
    value = rng.choice(HOSTILE_VALUES)
    value += b" " * (len(value) % 2)
    head = data[at : at + 6] + struct.pack("<H", len(value))
    tag = data[at : at + 4].hex()
    return data[:at] + head + value + data[at + 8 + length :], f"value of {tag} := {value[:20]!r}"


def corrupt_vr(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    elements = _explicit_elements(data)
    if not elements:
        return flip_bits(rng, data)
    at = rng.choice(elements)
    vr = rng.choice(VRS)
    return data[: at + 4] + vr + data[at + 6 :], f"VR of {data[at : at + 4].hex()} := {vr!r}"


def corrupt_length(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    elements = _explicit_elements(data)
    if not elements:
        return flip_bits(rng, data)
    at = rng.choice(elements)
    length = rng.choice((0, 1, 3, 0xFFFF, 0xFFFE, rng.randrange(65536)))
    if data[at + 4 : at + 6] in (b"OB", b"OW", b"SQ", b"UN"):
        field_at, packed = at + 8, struct.pack("<I", rng.choice((length, 0xFFFFFFFF, 0x7FFFFFFF)))
    else:
        field_at, packed = at + 6, struct.pack("<H", length)
    return data[:field_at] + packed + data[field_at + len(packed) :], f"length of {data[at : at + 4].hex()}"


def bad_transfer_syntax(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = data.find(b"\x02\x00\x10\x00UI")
    if at < 0:
        return flip_bits(rng, data)
    length = struct.unpack("<H", data[at + 6 : at + 8])[0]
    uid = rng.choice(TRANSFER_SYNTAXES)
    uid += b"\x00" * (len(uid) % 2)
    # The meta group length is left as it was: a lie of its own.
    return data[: at + 6] + struct.pack("<H", len(uid)) + uid + data[at + 8 + length :], f"syntax := {uid!r}"


_UID = re.compile(rb"[12](?:\.[0-9]+){4,}")


def fresh_uids(rng: random.Random, data: bytes) -> bytes:
    """The file's own UIDs (not the standard's 1.2.840.10008 ones) given new last digits,
    the same length: most mutants are then a new study, and reach the row writing that a
    duplicate study never gets to."""
    mapping: dict[bytes, bytes] = {}
    for match in _UID.finditer(data):
        uid = match.group(0)
        if uid.startswith(b"1.2.840.10008") or uid in mapping or len(uid) < 12:
            continue
        tail = "".join(rng.choice("123456789") for _ in range(4)).encode()
        mapping[uid] = uid[:-4] + tail if uid[-5:-4].isdigit() else uid
    return _UID.sub(lambda m: mapping.get(m.group(0), m.group(0)), data)


BYTE_DAMAGE = (flip_bits, truncate, cut_range, repeat_range)
DICOM_DAMAGE = (swap_value, corrupt_vr, corrupt_length, bad_transfer_syntax, flip_bits)


def _gunzipped(data: bytes) -> bytes | None:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):  # damaged already
        return None


def gzip_wrap(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def zip_wrap(rng: random.Random, name: str, data: bytes, extra: bytes | None) -> bytes:
    buffer = io.BytesIO()
    method = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        archive.writestr(f"upload/{name}", data)
        if extra is not None:
            archive.writestr("upload/other", extra)
    return buffer.getvalue()


def mutate(rng: random.Random, corpus: list[Seed]) -> Mutant:
    """One damaged upload: one to three kinds of damage, maybe wrapped, maybe renamed."""
    seed = rng.choice(corpus)
    data, steps = seed.data, [f"from {seed.name}"]
    if seed.kind == "dicom" and rng.random() < 0.7:
        data = fresh_uids(rng, data)
        steps.append("fresh UIDs")
    for _ in range(rng.choice((1, 1, 2, 3))):
        pool = DICOM_DAMAGE + BYTE_DAMAGE if seed.kind == "dicom" else BYTE_DAMAGE
        inner = _gunzipped(data) if seed.kind == "nifti" and rng.random() < 0.5 else None
        if inner:
            # Damage inside the gzip: the header and data the reader inflates.
            inner, step = rng.choice(BYTE_DAMAGE)(rng, inner)
            data, step = gzip_wrap(inner), f"{step} inside the gzip"
        else:
            data, step = rng.choice(pool)(rng, data)
        steps.append(step)
        if len(data) < 8:  # nothing left worth damaging further
            break
    name = seed.name
    wrap = rng.random()
    if wrap < 0.1:
        data, name = gzip_wrap(data), name + ".gz"
        steps.append("gzip")
    elif wrap < 0.25:
        extra = rng.choice(corpus).data if rng.random() < 0.5 else None
        data, name = zip_wrap(rng, seed.name, data, extra), "upload.zip"
        steps.append("zip" + (" with a second file" if extra else ""))
    if rng.random() < 0.1:
        name = rng.choice(NAMES)
        steps.append(f"named {name[:40]!r}")
    return Mutant(name, data, steps)


def mutants(seed: int, count: int, corpus: list[Seed]):
    rng = random.Random(seed)
    for index in range(count):
        yield index, mutate(rng, corpus)
