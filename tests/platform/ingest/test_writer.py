"""The fast path (raw pixel element kept, lean header writer) writes exactly what
pydicom's writer would for the same de-identified dataset."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ingest import deidentify, readers
from tests.platform.ingest.helpers import ct_dataset

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_fast_writer_is_byte_identical_to_pydicom(tmp_path, syntax):
    ds = ct_dataset(2)
    ds.file_meta.TransferSyntaxUID = syntax
    path = tmp_path / "IM2"
    ds.save_as(path, enforce_file_format=True)
    source = readers.Source(path, "IM2")
    fast = readers.read_dicom(source)
    assert fast.pixel_element is not None  # the fast path was taken
    deidentify.deidentify(fast.ds, pseudonym="W-1", rebuild_meta=False)
    fast_bytes = b"".join(
        bytes(c)
        for c in readers.encode(fast, shared=deidentify.shared_elements(), version_name="OSTEOLENS_1")
    )
    reference = pydicom.dcmread(path)
    deidentify.deidentify(reference, pseudonym="W-1")
    assert fast_bytes == readers.dataset_bytes(reference)
