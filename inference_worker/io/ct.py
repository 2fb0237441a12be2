"""Load a CT volume as Hounsfield units on a RAS voxel grid.

Two sources: a DICOM series (a folder, or a list of files/folders) and NIfTI. Both end
as ``CTVolume``: ``hu`` float32 indexed (x, y, z) with axes as close to R, A, S as the
acquisition allows, and the 4x4 voxel -> RAS (mm) affine. The DICOM datasets are kept
(sorted) so a DICOM SEG can reference them; ``to_source`` undoes the reorientation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from nibabel import orientations as ornt

NIFTI_SUFFIXES = (".nii", ".nii.gz")
# LPS (DICOM patient space) -> RAS (NIfTI/nibabel world) flips x and y.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class CTVolume:
    hu: np.ndarray  # float32 (X, Y, Z), RAS-closest voxel order
    affine: np.ndarray  # 4x4 voxel -> RAS mm
    source: str  # "dicom" or "nifti"
    datasets: list = field(default_factory=list)  # sorted DICOM slices (headers + pixels)
    # orientation transform from the source grid to ``hu``'s grid (nibabel ornt array)
    source_ornt: np.ndarray | None = None
    source_shape: tuple[int, ...] = ()

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    def to_source(self, array: np.ndarray) -> np.ndarray:
        """An array on this volume's grid, back on the source grid (e.g. DICOM pixel order)."""
        if self.source_ornt is None:
            return array
        inverse = ornt.ornt_transform(
            ornt.io_orientation(np.eye(4)), self.source_ornt
        )  # canonical axes -> source axes
        return ornt.apply_orientation(array, inverse)


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def _expand(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"{p} does not exist")
    return files


def load_ct(paths: str | Path | list[str | Path]) -> CTVolume:
    """Load one CT series (DICOM folder/files) or one NIfTI file, reoriented to RAS."""
    if isinstance(paths, str | Path):
        paths = [paths]
    files = _expand(list(paths))
    if not files:
        raise ValueError("no files given")
    nifti = [f for f in files if _is_nifti(f)]
    if nifti:
        if len(files) != 1:
            raise ValueError("give exactly one NIfTI file, not a mixture of files")
        return load_nifti(nifti[0])
    return load_dicom_series(files)


def _canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorient (flip/permute only, no resampling) to the closest RAS axes."""
    source = ornt.io_orientation(affine)
    img = nib.Nifti1Image(data, affine)
    canon = nib.as_closest_canonical(img)
    return np.asarray(canon.dataobj), canon.affine, source


def load_nifti(path: str | Path) -> CTVolume:
    img = nib.load(str(path))
    if len(img.shape) != 3:
        raise ValueError(f"{path}: expected a 3D volume, got shape {img.shape}")
    data = np.asarray(img.get_fdata(dtype=np.float32))
    hu, affine, source = _canonical(data, img.affine)
    return CTVolume(
        hu=np.ascontiguousarray(hu, dtype=np.float32),
        affine=affine,
        source="nifti",
        source_ornt=source,
        source_shape=tuple(data.shape),
    )


def _read_headers(files: list[Path]) -> list[pydicom.Dataset]:
    datasets = []
    for f in files:
        try:
            ds = pydicom.dcmread(str(f))
        except pydicom.errors.InvalidDicomError:
            # Folders may hold DICOMDIR-less extras (readme, thumbnails): skip non-DICOM.
            continue
        if "PixelData" not in ds:
            continue
        datasets.append(ds)
    if not datasets:
        raise ValueError("no DICOM images with pixel data found")
    return datasets


def _check_series(datasets: list[pydicom.Dataset]) -> None:
    modalities = {str(ds.get("Modality", "")) for ds in datasets}
    if modalities != {"CT"}:
        raise ValueError(f"not a CT series: modality {', '.join(sorted(modalities)) or 'missing'}")
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    if len(series) > 1:
        raise ValueError(f"mixed series: {len(series)} SeriesInstanceUIDs in one input")
    for tag in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing"):
        if any(tag not in ds for ds in datasets):
            raise ValueError(f"a slice lacks {tag}; cannot place it in space")
    iops = np.array([[float(v) for v in ds.ImageOrientationPatient] for ds in datasets])
    if np.abs(iops - iops[0]).max() > 1e-3:
        raise ValueError("slices have different orientations (mixed or tilted series)")
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(shapes) > 1:
        raise ValueError(f"slices have different sizes: {sorted(shapes)}")


def load_dicom_series(files: list[Path]) -> CTVolume:
    datasets = _read_headers(files)
    _check_series(datasets)
    iop = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    # Instance numbers lie sometimes; the projection of the position on the normal does not.
    order = np.argsort(positions @ normal)
    datasets = [datasets[i] for i in order]
    positions = positions[order]
    distances = positions @ normal
    if len(datasets) > 1:
        gaps = np.diff(distances)
        if np.any(gaps < 1e-3):
            raise ValueError("two slices share a position (duplicate or mixed acquisitions)")
        if gaps.max() - gaps.min() > 0.1 * max(gaps.mean(), 1e-6) + 1e-3:
            raise ValueError("slice spacing is not uniform (missing slices?)")
        step = (positions[-1] - positions[0]) / (len(datasets) - 1)
    else:
        thickness = float(datasets[0].get("SliceThickness", 1.0) or 1.0)
        step = normal * thickness
    row_spacing, col_spacing = (float(v) for v in datasets[0].PixelSpacing)
    lps = np.eye(4)
    # Array axis 0 = column index (moves along the row direction), axis 1 = row index.
    lps[:3, 0] = row_dir * col_spacing
    lps[:3, 1] = col_dir * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = positions[0]
    affine = _LPS_TO_RAS @ lps

    volume = np.empty((int(datasets[0].Columns), int(datasets[0].Rows), len(datasets)), np.float32)
    for k, ds in enumerate(datasets):
        pixels = ds.pixel_array.astype(np.float32)  # pylibjpeg plugins decode J2K/JPEG-LS/RLE
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        volume[:, :, k] = (pixels * slope + intercept).T
    hu, canon_affine, source = _canonical(volume, affine)
    return CTVolume(
        hu=np.ascontiguousarray(hu, dtype=np.float32),
        affine=canon_affine,
        source="dicom",
        datasets=datasets,
        source_ornt=source,
        source_shape=volume.shape,
    )
