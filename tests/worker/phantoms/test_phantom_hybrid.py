"""Hybrid mode: a phantom tumour in the real pelvis CT, with derived bone labels."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from inference_worker.phantoms import hybrid_ct

# The real pelvis CT ships in inference_worker/phantoms/data; its absence is a broken checkout, not a skip.
assert (hybrid_ct.REAL_CT / "ct.nii.gz").exists(), f"real CT missing at {hybrid_ct.REAL_CT}"


@pytest.fixture(scope="module")
def hybrid():
    return hybrid_ct.generate_hybrid_case(3, "giant_cell_tumour")


def test_derived_labels_are_anatomical():
    base = hybrid_ct.real_pelvis()
    labels, affine = base["labels"], base["affine"]
    assert nib.aff2axcodes(affine) == ("R", "A", "S")
    centre = {k: (affine @ np.r_[ndimage.center_of_mass(labels == k), 1.0])[:3] for k in (2, 3, 4)}
    assert centre[2][0] < centre[4][0] < centre[3][0]  # left hip at -x (RAS)
    # The outside reference: TotalSegmentator's S1 lies inside/next to our sacrum.
    verts = np.asarray(nib.load(Path(hybrid_ct.REAL_CT) / "vertebrae_labels.nii.gz").dataobj)
    s1 = verts == hybrid_ct.S1_LABEL
    assert (labels[s1] == 4).mean() > 0.3
    assert abs(centre[4][0] - (affine @ np.r_[ndimage.center_of_mass(s1), 1.0])[0]) < 15


def test_hybrid_case(hybrid):
    assert hybrid.hybrid and hybrid.profile == "hybrid"
    assert hybrid.hu.dtype == np.int16 and hybrid.labels.shape == hybrid.hu.shape
    tumour = hybrid.labels == 1
    assert tumour.sum() > 50
    assert (ndimage.binary_dilation(tumour, iterations=2) & (hybrid.labels == 4)).any() or hybrid.lesion[
        "position"
    ] == "sacroiliac"
    again = hybrid_ct.generate_hybrid_case(3, "giant_cell_tumour")
    assert np.array_equal(again.hu, hybrid.hu) and np.array_equal(again.labels, hybrid.labels)
