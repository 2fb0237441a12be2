"""Sacral CT phantom: types, HU ranges, RAS geometry of the label map, determinism."""

import nibabel as nib
import numpy as np
from scipy import ndimage

from inference_worker.phantoms import sacral_ct


def test_arrays_and_metadata(ct_case):
    c = ct_case
    assert c.hu.dtype == np.int16 and c.labels.dtype == np.uint8
    assert c.hu.shape == c.labels.shape and c.hu.ndim == 3
    assert nib.aff2axcodes(c.affine) == ("R", "A", "S")
    assert np.allclose(np.diag(c.affine)[:3], c.spacing)
    assert c.diagnosis == "giant_cell_tumour"
    assert set(c.clinical) >= {"age", "sex", "tumour_volume_ml"}
    assert c.clinical["tumour_volume_ml"] > 1
    assert set(np.unique(c.labels)) == {0, 1, 2, 3, 4}


def test_hu_ranges(ct_case):
    hu, lab = ct_case.hu, ct_case.labels
    assert hu.min() >= -1024 and np.median(hu[0, 0, :]) < -900  # air in the corner
    bone = lab == 4
    assert 150 < np.median(hu[bone]) < 700
    assert np.percentile(hu[bone], 99) > 600  # cortex
    body_fat = hu[(hu > -150) & (hu < -50)]
    assert body_fat.size > 10000


def test_left_hip_is_on_patient_left(ct_case):
    """RAS: patient's left is -x, so label 2's centroid has the smaller world x."""
    c = ct_case
    centroids = {}
    for label in (1, 2, 3, 4):
        ijk = np.array(ndimage.center_of_mass(c.labels == label))
        centroids[label] = (c.affine @ np.r_[ijk, 1.0])[:3]
    assert centroids[2][0] < centroids[4][0] < centroids[3][0]
    assert abs(centroids[3][0] - centroids[2][0]) > 120  # hip bones are far apart


def test_tumour_touches_sacrum(ct_case):
    tumour = ct_case.labels == 1
    sacrum = ct_case.labels == 4
    assert (ndimage.binary_dilation(tumour, iterations=2) & sacrum).any()
    centre = np.array(ct_case.lesion["centre_ras_mm"])
    ijk = np.rint(np.linalg.inv(ct_case.affine) @ np.r_[centre, 1.0])[:3].astype(int)
    assert ct_case.labels[tuple(ijk)] in (1, 4)


def test_exactly_one_tumour_component():
    for seed in (3, 4):
        c = sacral_ct.generate_case(seed, "chordoma")
        _, n = ndimage.label(c.labels == 1)
        assert n == 1


def test_deterministic(ct_case):
    again = sacral_ct.generate_case(1234, "giant_cell_tumour")
    assert np.array_equal(again.hu, ct_case.hu)
    assert np.array_equal(again.labels, ct_case.labels)
    assert again.lesion == ct_case.lesion


def test_external_profile_differs():
    ext = sacral_ct.generate_case(5, "metastasis", profile="external")
    base = sacral_ct.generate_case(5, "metastasis")
    assert ext.profile == "external"
    assert ext.spacing[2] != base.spacing[2]
    assert ext.hu.shape != base.hu.shape
