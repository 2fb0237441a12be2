"""DICOM output for phantoms: CT Image Storage series and CR radiographs.

Every file says it is synthetic three times over (patient name PHANTOM^..., series
description and image comments "SYNTHETIC PHANTOM - not a patient"), carries the
Patient Identity Removed flag, and has no private tags. UIDs are derived from the
seed so the same seed writes byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ComputedRadiographyImageStorage, CTImageStorage, ExplicitVRLittleEndian, generate_uid

SYNTHETIC = "SYNTHETIC PHANTOM - not a patient"
STUDY_DATE = "20250101"  # fixed: dates must not depend on the clock, or files differ per run
STUDY_TIME = "120000"


def uid(*parts) -> str:
    """Deterministic UID from the given parts (case id, role, index...)."""
    return generate_uid(entropy_srcs=["osteolens-phantom", *map(str, parts)])


def _lps(ras) -> list[float]:
    # DICOM patient coordinates are LPS; nibabel/affines here are RAS.
    return [-float(ras[0]), -float(ras[1]), float(ras[2])]


def _ds(value: float) -> str:
    return f"{value:.6g}"


def _base(meta, sop_class, sop_uid, case_id, clinical, modality, series_description) -> Dataset:
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = sop_class
    fm.MediaStorageSOPInstanceUID = sop_uid
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    fm.ImplementationClassUID = uid("implementation")
    fm.ImplementationVersionName = "OSTEOLENS_PH1"
    ds = Dataset()
    ds.file_meta = fm
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = STUDY_TIME
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = meta.get("manufacturer", "OsteoLens Phantom Works")
    ds.ManufacturerModelName = meta.get("model", "Synthetic")
    ds.InstitutionName = meta.get("centre", "Centre A")
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"{SYNTHETIC} ({meta.get('task', '')})"
    ds.SeriesDescription = f"{series_description} - {SYNTHETIC}"
    ds.PatientName = f"PHANTOM^{case_id}"
    ds.PatientID = case_id
    ds.PatientBirthDate = ""
    ds.PatientSex = clinical.get("sex") or "O"
    if clinical.get("age") is not None:
        ds.PatientAge = f"{int(clinical['age']):03d}Y"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Synthetic phantom: no patient data"
    ds.StudyInstanceUID = uid(case_id, "study")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.ImageComments = SYNTHETIC
    ds.BurnedInAnnotation = "NO"
    return ds


def write_ct_series(case, folder: str | Path, case_id: str, meta: dict | None = None) -> list[Path]:
    """One CT Image Storage file per axial slice, named 0001.dcm, ...; returns the paths.

    Pixel rows run anterior->posterior and columns right->left (the standard axial
    orientation, IOP 1\\0\\0\\0\\1\\0), so readers need no flips to display it.
    """
    meta = {**(meta or {}), **case.scanner}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nx, ny, nz = case.hu.shape
    dx, dy, dz = case.spacing
    series_uid = uid(case_id, "ct-series")
    frame_uid = uid(case_id, "frame")
    paths = []
    for k in range(nz):
        # DICOM column c = patient's left-ward = RAS index nx-1-c; row r = posterior-ward.
        pixels = np.ascontiguousarray(case.hu[::-1, ::-1, k].T)
        corner = case.affine @ np.array([nx - 1, ny - 1, k, 1.0])
        sop = uid(case_id, "ct", k)
        ds = _base(meta, CTImageStorage, sop, case_id, case.clinical, "CT", "Sacrum NCCT")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.BodyPartExamined = "PELVIS"
        ds.PatientPosition = "HFS"
        ds.InstanceNumber = k + 1
        ds.AcquisitionNumber = 1
        ds.ImagePositionPatient = [_ds(v) for v in _lps(corner[:3])]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.SliceLocation = _ds(corner[2])
        ds.PixelSpacing = [_ds(dy), _ds(dx)]  # row spacing, column spacing
        ds.SliceThickness = _ds(dz)
        ds.KVP = _ds(meta.get("kvp", 120))
        ds.ConvolutionKernel = meta.get("kernel", "SOFT")
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = ["400", "40"]
        ds.WindowWidth = ["1800", "400"]
        ds.WindowCenterWidthExplanation = ["BONE", "SOFT TISSUE"]
        ds.PixelData = pixels.astype("<i2").tobytes()
        path = folder / f"{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_radiograph(
    path: str | Path,
    pixels: np.ndarray,
    spacing: tuple[float, float],
    case_id: str,
    clinical: dict,
    view: str,
    body_part: str,
    index: int = 0,
    meta: dict | None = None,
    laterality: str = "",
) -> Path:
    """A CR image, MONOCHROME2 (bone bright), 16-bit unsigned with 12 bits stored."""
    meta = meta or {}
    sop = uid(case_id, "cr", index)
    ds = _base(meta, ComputedRadiographyImageStorage, sop, case_id, clinical, "CR", f"{body_part} {view}")
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = "Synthetic projection phantom"
    ds.SeriesInstanceUID = uid(case_id, "cr-series", index)
    ds.SeriesNumber = index + 1
    ds.InstanceNumber = 1
    ds.BodyPartExamined = body_part
    ds.ViewPosition = view
    if laterality:  # only for paired body parts; dciodvfy rejects it on the spine
        ds.Laterality = laterality
    ds.PatientOrientation = ["L", "F"] if view == "AP" else ["A", "F"]
    ds.ImagerPixelSpacing = [_ds(spacing[0]), _ds(spacing[1])]
    ds.PixelSpacing = [_ds(spacing[0]), _ds(spacing[1])]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "Phantom geometry, no magnification"
    ds.KVP = _ds(meta.get("kvp", 70))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "2048"
    ds.WindowWidth = "4096"
    ds.PixelData = np.clip(pixels, 0, 4095).astype("<u2").tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
