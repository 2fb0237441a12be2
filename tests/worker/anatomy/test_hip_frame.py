"""The hip-bone frame gives the same tumour location however the same anatomy is imaged."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from inference_worker.anatomy.figure import hip_bones_by_threshold
from inference_worker.anatomy.hip_frame import hip_frame, side_of, tumour_location
from inference_worker.io.ct import load_ct

# Anatomy in patient mm (RAS): two tilted ellipsoidal "hip bones" and a tumour.
LEFT_C, RIGHT_C = np.array([-95.0, 0.0, 0.0]), np.array([95.0, 0.0, 0.0])
BONE_RADII = np.array([25.0, 45.0, 80.0])  # long cranio-caudal, like an ilium + ischium
TUMOUR_C, TUMOUR_R = np.array([30.0, -20.0, 40.0]), 18.0


def _tilt(deg: float) -> np.ndarray:
    return Rotation.from_euler("x", deg, degrees=True).as_matrix()


def _rasterise(patient_pose: np.ndarray, spacing: float, shape, origin) -> tuple[dict, np.ndarray]:
    """Label the three structures on a grid; patient_pose maps anatomy mm -> world mm."""
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = origin
    idx = np.indices(shape).reshape(3, -1).T
    world = idx @ affine[:3, :3].T + affine[:3, 3]
    rot, shift = patient_pose[:3, :3], patient_pose[:3, 3]
    anat = (world - shift) @ rot  # inverse of a rigid pose
    masks = {}
    for name, centre, tilt in (("left", LEFT_C, 15.0), ("right", RIGHT_C, 15.0)):
        local = (anat - centre) @ _tilt(tilt)
        masks[name] = (((local / BONE_RADII) ** 2).sum(1) <= 1).reshape(shape)
    masks["tumour"] = (np.linalg.norm(anat - TUMOUR_C, axis=1) <= TUMOUR_R).reshape(shape)
    return masks, affine


def _location(pose, spacing=3.0, shape=(90, 70, 80), origin=(-135.0, -105.0, -120.0)):
    masks, affine = _rasterise(pose, spacing, shape, np.asarray(origin))
    frame = hip_frame(masks["left"], masks["right"], affine)
    return tumour_location(masks["tumour"], affine, frame), frame


def _pose(rot_deg=(0.0, 0.0, 0.0), shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_euler("xyz", rot_deg, degrees=True).as_matrix()
    pose[:3, 3] = shift
    return pose


@pytest.fixture(scope="module")
def reference():
    return _location(_pose())


def test_reference_location_matches_the_geometry(reference):
    loc, frame = reference
    # The bones lean 15 degrees, so the frame's anterior/superior axes are the scanner's
    # turned by that tilt; the scale is the 190 mm between the bone centres.
    axes = _tilt(15.0).T
    np.testing.assert_allclose(loc["centroid"], axes @ TUMOUR_C / 190, atol=0.01)
    np.testing.assert_allclose(frame.axes, axes, atol=0.01)
    assert loc["side"] == "right"
    assert frame.superior_from == "principal_axis"
    assert frame.axes[2] @ [0, 0, 1] > 0.9


@pytest.mark.parametrize(
    "pose",
    [
        _pose(shift=(17.0, -11.0, 23.0)),
        _pose(rot_deg=(4.0, 0.0, 0.0)),
        _pose(rot_deg=(0.0, -3.0, 5.0)),
        _pose(rot_deg=(3.0, 3.0, -4.0), shift=(-9.0, 6.0, 12.0)),
    ],
    ids=["moved", "pitched", "rolled-yawed", "moved-rotated"],
)
def test_location_invariant_to_patient_pose(reference, pose):
    loc, _ = _location(pose)
    np.testing.assert_allclose(loc["centroid"], reference[0]["centroid"], atol=0.012)
    assert loc["side"] == reference[0]["side"]


def test_location_invariant_to_voxel_size(reference):
    loc, _ = _location(_pose(), spacing=2.0, shape=(135, 105, 120))
    np.testing.assert_allclose(loc["centroid"], reference[0]["centroid"], atol=0.012)
    np.testing.assert_allclose(loc["extent"], reference[0]["extent"], atol=0.03)


def test_location_invariant_to_field_of_view(reference):
    # A tighter, shifted field of view that still holds both bones and the tumour.
    loc, _ = _location(_pose(), shape=(82, 40, 70), origin=(-126.0, -60.0, -96.0))
    np.testing.assert_allclose(loc["centroid"], reference[0]["centroid"], atol=0.012)


def test_location_follows_the_anatomy_not_the_scanner():
    """Rotating the patient 5 degrees about the superior axis moves scanner coordinates a lot."""
    loc0, _ = _location(_pose())
    loc1, frame1 = _location(_pose(rot_deg=(0.0, 0.0, 5.0)))
    np.testing.assert_allclose(loc1["centroid"], loc0["centroid"], atol=0.012)
    assert abs(loc1["centroid_mm"][1] - loc0["centroid_mm"][1]) > 2.0


def test_midline_and_sides():
    assert side_of(0.0) == "midline"
    assert side_of(0.2) == "right"
    assert side_of(-0.2) == "left"


def test_missing_hip_bone_is_an_error():
    masks, affine = _rasterise(_pose(), 3.0, (40, 40, 40), np.array([-60.0, -60.0, -60.0]))
    with pytest.raises(ValueError, match="both hip bones"):
        hip_frame(masks["left"], np.zeros_like(masks["left"]), affine)


def test_real_pelvis_puts_s1_on_the_midline(real_data):
    folder = real_data / "ct_pelvis_totalseg"
    ct = load_ct(folder / "ct.nii.gz")
    vertebrae = nib.as_closest_canonical(nib.load(folder / "vertebrae_labels.nii.gz"))
    np.testing.assert_allclose(vertebrae.affine, ct.affine, atol=1e-3)
    left, right = hip_bones_by_threshold(ct.hu)
    frame = hip_frame(left, right, ct.affine)
    # Adult inter-hip-bone-centroid distance is some 14-20 cm.
    assert 130 < frame.scale < 210
    s1 = tumour_location(np.asarray(vertebrae.dataobj) == 26, ct.affine, frame)
    assert abs(s1["centroid"][0]) < 0.05, s1
    assert s1["side"] == "midline"
    # S1 lies above and behind the hip-bone centroids.
    assert s1["centroid"][2] > 0
    assert s1["centroid"][1] < 0
