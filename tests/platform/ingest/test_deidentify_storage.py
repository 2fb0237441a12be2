"""Stored files carry nothing of the upload's preamble or trailing padding."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, JPEGLSLossless, RLELossless

from ingest import storage
from ingest.services import ingest_paths
from tests.platform.ingest.helpers import ct_dataset, stored_files

pytestmark = pytest.mark.django_db

PREAMBLE = (b"PREAMBLE-SECRET-Quixwright-" + bytes(range(1, 128)))[:128]
PADDING = b"PADDING-SECRET-Pumpernickel" + b"\x00" * 5


def _hostile(index: int, syntax: str):
    ds = ct_dataset(index)
    if syntax in (JPEGLSLossless, RLELossless):
        ds.compress(syntax)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
    ds.add_new(0xFFFCFFFC, "OB", PADDING)  # Data Set Trailing Padding
    ds.preamble = PREAMBLE
    return ds


@pytest.mark.parametrize(
    "syntax", [DeflatedExplicitVRLittleEndian, JPEGLSLossless, RLELossless, ExplicitVRLittleEndian]
)
def test_stored_file_has_a_zero_preamble_and_no_trailing_padding(tmp_path, alice, syntax):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "IM0"
    _hostile(0, syntax).save_as(path, enforce_file_format=True)
    uploaded = path.read_bytes()
    assert uploaded[:128] == PREAMBLE and uploaded[128:132] == b"DICM"  # the test input is hostile
    original = pydicom.dcmread(path)
    assert 0xFFFCFFFC in original
    ingest_paths([folder], user=alice, label="PAD-1")
    (stored,) = stored_files()
    raw = stored.read_bytes()
    assert raw[:128] == bytes(128) and raw[128:132] == b"DICM"
    assert b"PREAMBLE-SECRET" not in raw and b"PADDING-SECRET" not in raw
    copy = pydicom.dcmread(stored)
    assert 0xFFFCFFFC not in copy
    assert copy.file_meta.TransferSyntaxUID == syntax
    assert (copy.pixel_array == original.pixel_array).all()


def test_storage_zeroes_any_preamble_it_is_given():
    """Whichever writer made the bytes, a stored DICOM object starts with 128 zeros."""
    data = PREAMBLE + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\x00\x00\x00\x00"
    obj = storage.put_bytes(data)
    stored = storage.absolute_path(obj.path).read_bytes()
    assert stored == bytes(128) + data[128:]
    # Other objects (labels, volumes) are stored as given.
    other = storage.put_bytes(data, suffix=".nii")
    assert storage.absolute_path(other.path).read_bytes() == data
