"""Stored image series for the viewer tests (real DICOM files under a temp MEDIA_ROOT)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.conf import settings
from pydicom.uid import generate_uid

from cases.models import Instance, Series, Study
from cases.pseudonyms import case_pseudonym, patient_name
from tests.platform.factories import ct_slice, make_case, store_dataset


def add_series(
    case,
    count: int = 3,
    *,
    study_description: str = "",
    series_description: str = "",
    image_comments: str = "",
    size: int = 32,
    study: Study | None = None,
) -> Series:
    """A CT series of `count` stored slices (z = 3 mm apart, stored in reverse order)."""
    study = study or Study.objects.create(case=case, study_uid=generate_uid(), description=study_description)
    series_uid = generate_uid()
    series = Series.objects.create(
        study=study,
        series_uid=series_uid,
        modality="CT",
        description=series_description,
        number=Series.objects.filter(study=study).count() + 1,
        photometric="MONOCHROME2",
        rows=size,
        columns=size,
    )
    yy, xx = np.mgrid[:size, :size]
    for k in reversed(range(count)):
        pixels = np.where((yy - size // 2) ** 2 + (xx - size // 2) ** 2 < (size // 3) ** 2, 1000 + k, -50)
        ds = ct_slice(pixels, z=3.0 * k)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study.study_uid, series_uid
        ds.InstanceNumber = k + 1
        # As ingest writes them: the case's opaque pseudonym, never its label.
        ds.PatientID = case_pseudonym(case)
        ds.PatientName = patient_name(ds.PatientID)
        if study_description:
            ds.StudyDescription = study_description
        if series_description:
            ds.SeriesDescription = series_description
        if image_comments:
            ds.ImageComments = image_comments
        sha, path, nbytes = store_dataset(ds)
        Instance.objects.create(
            series=series,
            sop_uid=ds.SOPInstanceUID,
            sop_class_uid=ds.SOPClassUID,
            transfer_syntax=str(ds.file_meta.TransferSyntaxUID),
            instance_number=k + 1,
            slice_location=3.0 * k,
            rows=size,
            columns=size,
            window_center=40,
            window_width=400,
            sha256=sha,
            path=path,
            size=nbytes,
        )
    return series


def _first(value) -> float | None:
    if value is None:
        return None
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)


def ingest_folder(folder: Path, **kwargs):
    """The real ingest service when it is there; else store_folder() on a new case."""
    try:
        from ingest.services import ingest_paths
    except ImportError:
        case = make_case(**{k: v for k, v in kwargs.items() if k in ("owner", "in_library")})
        store_folder(case, folder)
        return case
    return ingest_paths([folder], task="sacral-ct", **kwargs).case


def store_folder(case, folder: Path) -> Series:
    """Store every DICOM file of `folder` (one series), rows from its headers.

    Files with empty UIDs (the real J2K series has them) get UIDs, as ingest does.
    """
    series = None
    study_uid, series_uid = generate_uid(), generate_uid()
    for source in sorted(folder.iterdir()):
        ds = pydicom.dcmread(source)
        ds.StudyInstanceUID = ds.get("StudyInstanceUID") or study_uid
        ds.SeriesInstanceUID = ds.get("SeriesInstanceUID") or series_uid
        ds.SOPInstanceUID = ds.get("SOPInstanceUID") or ds.file_meta.MediaStorageSOPInstanceUID
        if series is None:
            study = Study.objects.create(case=case, study_uid=ds.StudyInstanceUID)
            series = Series.objects.create(
                study=study,
                series_uid=ds.SeriesInstanceUID,
                modality=str(ds.Modality),
                photometric=str(ds.PhotometricInterpretation),
                rows=int(ds.Rows),
                columns=int(ds.Columns),
            )
        buffer = io.BytesIO()
        ds.save_as(buffer)
        data = buffer.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        relative = f"objects/{sha[:2]}/{sha}.dcm"
        target = Path(settings.MEDIA_ROOT) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        Instance.objects.create(
            series=series,
            sop_uid=ds.SOPInstanceUID,
            sop_class_uid=ds.SOPClassUID,
            transfer_syntax=str(ds.file_meta.TransferSyntaxUID),
            instance_number=int(ds.InstanceNumber) if "InstanceNumber" in ds else None,
            slice_location=float(ds.ImagePositionPatient[2]),
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            window_center=_first(ds.get("WindowCenter")),
            window_width=_first(ds.get("WindowWidth")),
            sha256=sha,
            path=relative,
            size=len(data),
        )
    return series


@pytest.fixture
def cases(db, dora, dan):
    """library: a library case; dora_case: dora's upload (not in the library)."""
    library = make_case(in_library=True, label="lib-1")
    add_series(library, 3)
    dora_case = make_case(in_library=False, owner=dora, label="dora-1")
    add_series(dora_case, 2)
    return {"library": library, "dora": dora_case}


def first_instance(case) -> Instance:
    return Instance.objects.filter(series__study__case=case).select_related("series__study").first()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The named users are created for every test; the real hasher costs ~0.3 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
