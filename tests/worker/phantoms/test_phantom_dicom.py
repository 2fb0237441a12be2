"""DICOM files: dciodvfy-clean, marked synthetic, geometry that reads back in RAS."""

import shutil
import subprocess

import numpy as np
import pydicom
import pytest

from inference_worker.phantoms import dicom_writer

DCIODVFY = shutil.which("dciodvfy")


def _errors(path):
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def ct_files(ct_case, tmp_path_factory):
    return dicom_writer.write_ct_series(
        ct_case, tmp_path_factory.mktemp("ct"), "Sacral-test-0001", {"task": "sacral-ct"}
    )


def test_dciodvfy_all_kinds(ct_files, bone_case, spine_case, tmp_path):
    assert DCIODVFY, "dciodvfy missing: `make test` installs Debian's dicom3tools"
    bone = dicom_writer.write_radiograph(
        tmp_path / "bone.dcm",
        bone_case.pixels,
        bone_case.pixel_spacing,
        "Bone-1",
        bone_case.clinical,
        "AP",
        "LEG",
        laterality="L",
    )
    spine = dicom_writer.write_radiograph(
        tmp_path / "spine.dcm",
        spine_case.lateral,
        spine_case.pixel_spacing,
        "Spine-1",
        spine_case.clinical,
        "LL",
        "LSPINE",
    )
    for path in (ct_files[len(ct_files) // 2], bone, spine):
        assert _errors(path) == [], path


def test_marked_synthetic(ct_files):
    ds = pydicom.dcmread(ct_files[0])
    assert str(ds.PatientName).startswith("PHANTOM^")
    assert "SYNTHETIC PHANTOM" in ds.SeriesDescription and "SYNTHETIC PHANTOM" in ds.ImageComments
    assert ds.PatientIdentityRemoved == "YES"
    assert not any(elem.tag.is_private for elem in ds)


def test_ct_geometry_reads_back_in_ras(ct_case, ct_files):
    """Rebuild the RAS volume from the files; it must equal hu with the same affine."""
    slices = [pydicom.dcmread(p) for p in ct_files]
    first = slices[0]
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert len({s.SeriesInstanceUID for s in slices}) == 1
    assert len({s.FrameOfReferenceUID for s in slices}) == 1
    volume = np.stack([s.pixel_array for s in slices], axis=-1)  # (rows=P, cols=L, slices=S)
    ras = volume.transpose(1, 0, 2)[::-1, ::-1, :]
    assert np.array_equal(ras, ct_case.hu)
    # Voxel (0, 0, 0) in RAS is the last column/row of slice 1.
    ipp = np.array([float(v) for v in first.ImagePositionPatient])
    row_mm, col_mm = (float(v) for v in first.PixelSpacing)
    nx, ny, _ = ct_case.hu.shape
    lps_corner = ipp + np.array([(nx - 1) * col_mm, (ny - 1) * row_mm, 0.0])
    ras_corner = lps_corner * np.array([-1, -1, 1])
    assert np.allclose(ras_corner, ct_case.affine[:3, 3], atol=1e-3)
    z = [float(s.ImagePositionPatient[2]) for s in slices]
    assert np.allclose(np.diff(z), ct_case.spacing[2])


def test_uids_are_deterministic():
    assert dicom_writer.uid("a", 1) == dicom_writer.uid("a", 1) != dicom_writer.uid("a", 2)
