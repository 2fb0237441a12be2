"""Builders for test inputs (DICOM with planted identity, zips) and before/after snapshots."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pydicom
from django.apps import apps
from django.conf import settings
from django.db import connection
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

# Recognisable identity planted in generated files; none may survive ingest.
PHI = {
    "PatientName": "Zebulon^Quixwright^Marmaduke",
    "PatientID": "PID-7734519",
    "PatientBirthDate": "19610317",
    "InstitutionName": "Saint Wenceslas Bone Clinic",
    "InstitutionAddress": "42 Gravelpit Lane, Tumbleford",
    "ReferringPhysicianName": "Hornblower^Octavia",
    "PerformingPhysicianName": "Fairweather^Ignatius",
    "OperatorsName": "Pumpernickel^Rosalind",
    "AccessionNumber": "ACC-99887766",
    "PatientComments": "lives with sister at Quarry Cottage",
    "ImageComments": "called back re Dr Pettigrew",
    "OtherPatientIDs": "NHS-4455667788",
    "StationName": "CT-WOLFHALL-7",
    "StudyID": "STUDY-5566",
}
PRIVATE_TEXT = "PRIVATE-SECRET-BADGER"
STUDY_UID = "1.2.826.0.1.3680043.9.7777.1.1"
SERIES_UID = "1.2.826.0.1.3680043.9.7777.1.2"


def ct_dataset(index: int, *, size: int = 32, phi: dict | None = None, series_uid: str = SERIES_UID,
               study_uid: str = STUDY_UID, modality: str = "CT") -> Dataset:  # fmt: skip
    """One axial CT slice at z = 2.5 * index with recognisable identity in its header."""
    values = dict(PHI if phi is None else phi)
    sop_uid = f"{series_uid}.{index + 1}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "WOLFHALL_PACS"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = f"{study_uid}.9"
    ds.StudyDate = "20240115"
    ds.SeriesDate = "20240115"
    ds.StudyTime = "101500"
    ds.PatientSex = "F"
    ds.PatientAge = "063Y"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.StudyDescription = f"CT pelvis {values.get('PatientID', '')}".strip()
    ds.SeriesDescription = "Bone 1.0"
    ds.Modality = modality
    ds.BodyPartExamined = "PELVIS"
    ds.SeriesNumber = 3
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [-20.0, -20.0, 2.5 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.75, 0.8]
    ds.SliceThickness = 2.5
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = 400, 1800
    block = ds.private_block(0x0029, "WOLFHALL PRIVATE", create=True)
    block.add_new(0x10, "LO", PRIVATE_TEXT)
    pixels = (np.arange(size * size, dtype=np.int16).reshape(size, size) * 3 + index * 7) % 3000
    ds.PixelData = pixels.astype(np.int16).tobytes()
    return ds


def write_series(folder: Path, count: int, **kwargs) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"IM{i:04d}"  # no extension, as scanners write them
        ct_dataset(i, **kwargs).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def make_zip(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a Unix symbolic link
            archive.writestr(info, target)
    return path


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def db_dump() -> dict[str, list[dict]]:
    """Every row of every table, so 'nothing changed' and 'no PHI anywhere' are checkable."""
    dump = {}
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        if model._meta.db_table not in tables:  # an app whose migrations are not written yet
            continue
        rows = list(model.objects.all().values())
        dump[model._meta.db_table] = sorted(repr(sorted(r.items())) for r in rows)
    return dump


def media_snapshot() -> list[tuple[str, int]]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")
    )


def temp_leftovers() -> list[str]:
    return sorted(p.name for p in Path(settings.UPLOAD_TEMP_DIR).glob("ingest-*"))


def stored_files() -> list[Path]:
    return sorted(p for p in (Path(settings.MEDIA_ROOT) / "objects").rglob("*") if p.is_file())


def read_stored(path: Path) -> Dataset:
    return pydicom.dcmread(path)


def snapshot():
    """Take a snapshot of DB rows, MEDIA_ROOT and the upload temp folder; the returned
    function asserts they are exactly as they were."""
    before = (db_dump(), media_snapshot(), temp_leftovers())

    def assert_unchanged():
        assert db_dump() == before[0], "database rows changed"
        assert media_snapshot() == before[1], "MEDIA_ROOT changed"
        assert temp_leftovers() == before[2], "temporary files left behind"

    return assert_unchanged
