"""Hostile inputs for the upload tests, the fuzz test and the fuzz bench: the files the
penetration test used, built from real and phantom files, and the three upload
endpoints as one helper each."""

from __future__ import annotations

import gzip
import io
import random
import struct
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.data import get_testdata_file

from tests.platform.ingest.helpers import ct_dataset, dicom_bytes

# The three ways in: the upload page, the second-opinion page, the REST API.
ENDPOINTS = {"ingest": "/ingest/", "opinions": "/opinions/new/", "api": "/api/v1/requests/"}
PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"


def pydicom_file(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


def corrupted_rle() -> bytes:
    """pydicom's MR_small_RLE.dcm with 16 bits flipped in its pixel data: makes the Rust
    RLE decoder (pylibjpeg-rle) panic with 'index out of bounds' (seed found by search)."""
    data = bytearray(pydicom_file("MR_small_RLE.dcm"))
    start = data.find(PIXEL_DATA_TAG) + 12
    rng = random.Random(2)
    for _ in range(16):
        index = rng.randrange(start, len(data))
        data[index] ^= 1 << rng.randrange(8)
    return bytes(data)


def with_integer_string(keyword_value: bytes, replacement: bytes) -> bytes:
    """A CT slice whose IS value ``keyword_value`` (as written) is replaced, same length."""
    assert len(keyword_value) == len(replacement)
    data = dicom_bytes(ct_dataset(0))
    assert data.count(keyword_value) == 1
    return data.replace(keyword_value, replacement)


def huge_is_numbers() -> bytes:
    """SeriesNumber and InstanceNumber of 9e99: valid text, no database integer holds it."""
    ds = ct_dataset(0)
    ds.SeriesNumber, ds.InstanceNumber = 87654321, 12345678
    data = dicom_bytes(ds)
    return data.replace(b"87654321", b"9e99    ").replace(b"12345678", b"-9e99   ")


def bogus_transfer_syntax() -> bytes:
    data = dicom_bytes(ct_dataset(0))
    explicit = b"1.2.840.10008.1.2.1\x00"
    assert data.count(explicit) == 1
    return data.replace(explicit, b"1.2.840.10008.9.9.9\x00")


def odd_length_rows() -> bytes:
    """Rows (US) given 3 bytes: pydicom raises BytesLengthException when it is read."""
    data = dicom_bytes(ct_dataset(0))
    element = b"\x28\x00\x10\x00US\x02\x00"
    at = data.index(element)
    return data[:at] + b"\x28\x00\x10\x00US\x03\x00" + data[at + 8 : at + 10] + b"\x00" + data[at + 10 :]


def wrong_vr(tag: bytes, old_vr: bytes, new_vr: bytes) -> bytes:
    """A CT slice with one element's VR replaced (same length field)."""
    data = dicom_bytes(ct_dataset(0))
    at = data.index(tag + old_vr)
    return data[:at] + tag + new_vr + data[at + 6 :]


def nifti_gz(shape, dtype=np.int16, *, declared_shape=None, tail: bytes = b"") -> bytes:
    """A gzipped NIfTI-1 volume of zeros; ``declared_shape``: what the header claims
    instead (the data written stays ``shape``)."""
    img = nib.Nifti1Image(np.zeros(shape, dtype=dtype), np.diag([0.8, 0.8, 2.0, 1.0]))
    raw = img.to_bytes()
    if declared_shape is not None:
        header = img.header.copy()
        header.set_data_shape(declared_shape)
        raw = header.binaryblock + raw[348:]
    return gzip.compress(raw + tail, compresslevel=6)


def deflated_with_padding(padding_bytes: int) -> bytes:
    """A deflated-syntax CT slice carrying a private OB element of zeros: tiny on the
    wire, ``padding_bytes`` once inflated."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = ct_dataset(0)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    block = ds.private_block(0x0031, "PADDING", create=True)
    block.add_new(0x01, "OB", bytes(padding_bytes))
    return dicom_bytes(ds)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def small_entry_bomb(entries: int) -> bytes:
    """``entries`` x 1 MiB of zeros: every entry under the old per-entry ratio check."""
    zeros = bytes(1024 * 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(entries):
            archive.writestr(f"IM{i:05d}", zeros)
    return buffer.getvalue()


def nifti_header_only_bomb() -> bytes:
    """A NIfTI header declaring 2048^3 float64 voxels (64 GiB) over 1 MiB of zeros."""
    header = nib.Nifti1Header()
    header.set_data_dtype(np.float64)
    header.set_data_shape((2048, 2048, 2048))
    header["vox_offset"] = 352
    raw = header.binaryblock + b"\x00" * 4 + bytes(1024 * 1024)
    assert struct.unpack("<i", raw[:4])[0] == 348
    return gzip.compress(raw)
