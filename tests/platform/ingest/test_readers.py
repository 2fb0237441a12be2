"""Sniffing by content and the conversions of raster images and bare datasets."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from django.conf import settings
from PIL import Image
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_dataset

from cases.models import Case, Series
from ingest import readers
from ingest.services import ingest_paths
from tests.platform.ingest.helpers import ct_dataset

pytestmark = pytest.mark.django_db


def bare_dataset(path: Path, implicit: bool) -> Path:
    ds = ct_dataset(0)
    del ds.file_meta
    with open(path, "wb") as handle:
        fp = DicomFileLike(handle)
        fp.is_little_endian, fp.is_implicit_VR = True, implicit
        write_dataset(fp, ds)
    return path


def test_sniff_by_content_not_name(tmp_path):
    png, jpeg = tmp_path / "a.dcm", tmp_path / "b.png"
    Image.new("L", (8, 8)).save(png, format="PNG")
    Image.new("L", (8, 8)).save(jpeg, format="JPEG")
    nii = tmp_path / "c.jpg"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 2), np.int16), np.eye(4)), tmp_path / "v.nii")
    nii.write_bytes((tmp_path / "v.nii").read_bytes())
    gz = tmp_path / "d"
    gz.write_bytes(gzip.compress(nii.read_bytes()))
    text_gz = tmp_path / "e.nii.gz"
    text_gz.write_bytes(gzip.compress(b"not a volume" * 100))
    kinds = {p.name: readers.sniff(p) for p in (png, jpeg, nii, gz, text_gz)}
    assert kinds == {"a.dcm": "png", "b.png": "jpeg", "c.jpg": "nifti", "d": "nifti", "e.nii.gz": None}
    assert readers.sniff(bare_dataset(tmp_path / "f", True)) == "dicom"
    assert readers.sniff(bare_dataset(tmp_path / "g", False)) == "dicom"


@pytest.mark.parametrize("implicit", [True, False])
def test_bare_dataset_without_preamble(tmp_path, alice, implicit):
    path = bare_dataset(tmp_path / "bare", implicit)
    ingest_paths([path], user=alice)
    stored = pydicom.dcmread(Path(settings.MEDIA_ROOT) / Series.objects.get().instances.get().path)
    assert stored.PixelData == pydicom.dcmread(path, force=True).PixelData
    assert stored.file_meta.TransferSyntaxUID == ("1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1")
    assert stored.pixel_array.shape == (32, 32)


def test_png_radiograph_becomes_secondary_capture(tmp_path, alice):
    pixels = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 20 % 65536).astype(np.uint16)
    path = tmp_path / "knee.png"
    Image.fromarray(pixels).save(path)
    ingest_paths([path], user=alice, task="bone-xray")
    series = Series.objects.get()
    assert (series.modality, series.source_format, series.rows, series.columns) == ("OT", "raster", 48, 64)
    ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / series.instances.get().path)
    assert ds.SOPClassUID == readers.SECONDARY_CAPTURE_STORAGE
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsAllocated == 16
    assert np.array_equal(ds.pixel_array, pixels)
    assert Case.objects.get().task == "bone-xray"


def test_jpeg_radiograph_keeps_its_decoded_pixels(tmp_path, alice):
    rng = np.random.default_rng(1)
    path = tmp_path / "hand"  # no extension
    Image.fromarray(rng.integers(0, 255, (40, 30), dtype=np.uint8)).save(path, format="JPEG")
    ingest_paths([path], user=alice)
    ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / Series.objects.get().instances.get().path)
    with Image.open(path) as image:
        assert np.array_equal(ds.pixel_array, np.asarray(image.convert("L")))
    assert Case.objects.get().task == "bone-xray"
