"""CT loading: geometry, rescale, sorting and refusal of what is not one CT series."""

from __future__ import annotations

import random

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from inference_worker.io.ct import load_ct


def _write_series(folder, volume_lps, spacing, iop, origin, modality="CT", series_uid=None, skip=()):
    """Write volume (cols, rows, slices) as one file per slice, shuffled names."""
    folder.mkdir(parents=True, exist_ok=True)
    row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
    normal = np.cross(row_dir, col_dir)
    series_uid = series_uid or generate_uid()
    names = list(range(volume_lps.shape[2]))
    random.Random(0).shuffle(names)
    for k in range(volume_lps.shape[2]):
        if k in skip:
            continue
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Modality = modality
        ds.SeriesInstanceUID = series_uid
        ds.StudyInstanceUID = "1.2.3"
        ds.InstanceNumber = 1  # deliberately useless: sorting must use positions
        ds.ImageOrientationPatient = [float(v) for v in iop]
        ds.ImagePositionPatient = [float(v) for v in np.asarray(origin) + k * spacing[2] * normal]
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.Rows, ds.Columns = volume_lps.shape[1], volume_lps.shape[0]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 0
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (volume_lps[:, :, k].T + 1024).astype(np.uint16).tobytes()
        ds.save_as(folder / f"IM{names[k]:04d}", enforce_file_format=True)
    return folder


def _ramp(shape=(6, 5, 4)):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 3 - 500


def test_axial_series_geometry_and_rescale(tmp_path):
    vol = _ramp()
    folder = _write_series(tmp_path / "s", vol, (0.8, 0.7, 2.5), [1, 0, 0, 0, 1, 0], (10, 20, 30))
    ct = load_ct(folder)
    assert ct.source == "dicom" and len(ct.datasets) == 4
    assert nib.aff2axcodes(ct.affine) == ("R", "A", "S")
    np.testing.assert_allclose(ct.spacing, (0.8, 0.7, 2.5))
    # Every voxel's world position in LPS must equal where the DICOM put that pixel.
    for i, j, k in [(0, 0, 0), (5, 4, 3), (2, 3, 1)]:
        lps = np.array([10 + 0.8 * i, 20 + 0.7 * j, 30 + 2.5 * k])
        ras = lps * [-1, -1, 1]
        voxel = np.linalg.solve(ct.affine[:3, :3], ras - ct.affine[:3, 3])
        assert np.allclose(voxel, np.round(voxel), atol=1e-4)
        assert ct.hu[tuple(np.round(voxel).astype(int))] == vol[i, j, k]
    assert ct.to_source(ct.hu).shape == vol.shape
    np.testing.assert_array_equal(ct.to_source(ct.hu), vol)


def test_sagittal_series_is_reoriented(tmp_path):
    vol = _ramp((5, 6, 3))
    # rows run anterior->posterior (+y LPS), columns superior->inferior (-z), slices L->R
    iop = [0, 1, 0, 0, 0, -1]
    folder = _write_series(tmp_path / "sag", vol, (1.0, 1.5, 2.0), iop, (0, 0, 0))
    ct = load_ct([folder])
    assert nib.aff2axcodes(ct.affine) == ("R", "A", "S")
    assert sorted(ct.hu.shape) == sorted(vol.shape)
    assert np.isclose(ct.hu.sum(), vol.sum())


def test_mixed_series_is_refused(tmp_path):
    vol = _ramp()
    a = _write_series(tmp_path / "a", vol, (1, 1, 1), [1, 0, 0, 0, 1, 0], (0, 0, 0))
    b = _write_series(tmp_path / "b", vol, (1, 1, 1), [1, 0, 0, 0, 1, 0], (0, 0, 50))
    with pytest.raises(ValueError, match="mixed series"):
        load_ct([a, b])


def test_non_ct_is_refused(tmp_path):
    folder = _write_series(tmp_path / "mr", _ramp(), (1, 1, 1), [1, 0, 0, 0, 1, 0], (0, 0, 0), modality="MR")
    with pytest.raises(ValueError, match="not a CT"):
        load_ct(folder)


def test_missing_slice_is_refused(tmp_path):
    folder = _write_series(
        tmp_path / "gap", _ramp((4, 4, 6)), (1, 1, 1), [1, 0, 0, 0, 1, 0], (0, 0, 0), skip=(3,)
    )
    with pytest.raises(ValueError, match="not uniform"):
        load_ct(folder)


def test_nifti_is_reoriented_to_ras(tmp_path):
    data = _ramp()
    affine = np.diag([-2.0, 1.0, 3.0, 1.0])  # LAS on disk
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "x.nii.gz")
    ct = load_ct(tmp_path / "x.nii.gz")
    assert nib.aff2axcodes(ct.affine) == ("R", "A", "S")
    np.testing.assert_array_equal(ct.hu, data[::-1])
    np.testing.assert_array_equal(ct.to_source(ct.hu), data)


def test_real_jpeg2000_series_decodes(real_data):
    ct = load_ct(real_data / "ct_dicom_series_j2k")
    assert ct.hu.shape == (512, 512, 20)
    assert ct.hu.dtype == np.float32
    assert -1100 < ct.hu.min() < -900  # air after rescale
    assert 20 < np.median(ct.hu[200:300, 200:300]) < 200  # contrast-enhanced soft tissue
    np.testing.assert_allclose(ct.spacing[:2], (0.9765625, 0.9765625))


def test_nothing_to_load(tmp_path):
    (tmp_path / "readme.txt").write_text("not dicom")
    with pytest.raises(ValueError):
        load_ct(tmp_path)
