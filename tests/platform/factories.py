"""Small builders for case rows (with a real stored DICOM when images are needed)."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from cases.models import Case, ClinicalData, Histopathology, Instance, Series, Study
from inference_worker import vocabulary as vocab
from ingest.deidentify import deidentify

_counter = itertools.count(1)


def ct_slice(pixels: np.ndarray, *, z: float = 0.0, photometric: str = "MONOCHROME2") -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.ImagePositionPatient = [0, 0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.PixelData = pixels.astype(np.int16).tobytes()
    return ds


def store_dataset(ds: pydicom.Dataset) -> tuple[str, str, int]:
    """Store a dataset the way ingest does (content-addressed under MEDIA_ROOT)."""
    from ingest.storage import put_bytes

    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    stored = put_bytes(buffer.getvalue())
    return stored.sha256, stored.path, stored.size


def make_case(
    *,
    task: str = "sacral-ct",
    diagnosis: str | None = "chordoma",
    in_library: bool = True,
    owner=None,
    age: float | None = 60,
    sex: str = "M",
    site: str = "sacrum",
    with_image: bool = False,
    label: str | None = None,
) -> Case:
    n = next(_counter)
    case = Case.objects.create(
        label=label or f"case-{n:04d}", task=task, in_library=in_library, owner=owner, synthetic=True
    )
    ClinicalData.objects.create(case=case, age=age, sex=sex, site=site)
    if diagnosis:
        Histopathology.objects.create(
            case=case,
            diagnosis=diagnosis,
            behaviour=vocab.DIAGNOSIS_BY_CODE[diagnosis].behaviour,
            confirmation="synthetic",
        )
    if with_image:
        yy, xx = np.mgrid[:64, :64]
        pixels = np.where((yy - 32) ** 2 + (xx - 32) ** 2 < 200, 1000, 40)
        ds = ct_slice(pixels)
        # Stored files have been through de-identification, as ingest leaves them.
        deidentify(ds, pseudonym=case.label)
        sha, path, size = store_dataset(ds)
        study = Study.objects.create(case=case, study_uid=ds.StudyInstanceUID)
        series = Series.objects.create(
            study=study, series_uid=ds.SeriesInstanceUID, modality="CT", rows=64, columns=64
        )
        Instance.objects.create(
            series=series,
            sop_uid=ds.SOPInstanceUID,
            sop_class_uid=ds.SOPClassUID,
            transfer_syntax=ExplicitVRLittleEndian,
            sha256=sha,
            path=path,
            size=size,
        )
    return case
