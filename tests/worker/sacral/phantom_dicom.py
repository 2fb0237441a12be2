"""Write a phantom volume as a plain CT DICOM series (test helper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import DSfloat


def write_ct_series(hu: np.ndarray, affine: np.ndarray, folder: Path) -> Path:
    """hu (X, Y, Z) RAS with an axis-aligned affine -> one file per slice, LPS geometry."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    spacing = np.abs(np.diag(affine)[:3])
    # RAS voxel (i, j, k) -> LPS; DICOM rows run along +LPS y (posterior), columns +LPS x (left).
    # So flip the RAS array in x and y and keep the first voxel's position.
    lps_origin = affine[:3, :3] @ np.array([hu.shape[0] - 1, hu.shape[1] - 1, 0]) + affine[:3, 3]
    lps_origin = lps_origin * np.array([-1, -1, 1])
    flipped = hu[::-1, ::-1, :]
    for k in range(hu.shape[2]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Phantom^Sacral", "PH0001", "", "M"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "120000", "1", ""
        ds.ReferringPhysicianName = ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
        ds.Manufacturer = "OsteoLens Phantom Works"
        ds.PositionReferenceIndicator = ""
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP = 120
        ds.AcquisitionNumber = 1
        ds.PatientPosition = "HFS"
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [
            _ds(lps_origin[0]),
            _ds(lps_origin[1]),
            _ds(lps_origin[2] + k * spacing[2]),
        ]
        ds.SliceThickness = _ds(spacing[2])
        ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[0])]
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
        ds.PixelData = np.ascontiguousarray(flipped[:, :, k].T.astype(np.int16)).tobytes()
        ds.save_as(folder / f"CT{k:04d}.dcm", enforce_file_format=True)
    return folder


def _ds(value) -> DSfloat:
    """A valid DS (at most 16 characters) whatever pydicom's validation mode: float
    arithmetic gives values like -161.58599999999998, which RAISE mode refuses."""
    return DSfloat(float(value), auto_format=True)
