"""Out-of-domain check: header rules and the image-statistics distance."""

from __future__ import annotations

import numpy as np
import pytest

from inference_worker.io.radiograph import Radiograph, load_radiograph
from inference_worker.phantoms import bone_xray
from inference_worker.radiograph.domain import domain_check, fit_domain, header_reasons, image_features


@pytest.fixture(scope="module")
def reference():
    feats = [image_features(bone_xray.generate_case(seed).pixels / 4095.0) for seed in range(16)]
    return fit_domain(np.array(feats))


def chest_like() -> np.ndarray:
    """A PA chest film in caricature: bright mediastinum and soft tissue, two dark lungs, ribs."""
    rows, cols = np.mgrid[:512, :512] / 512.0
    image = np.full((512, 512), 0.75, dtype=np.float32)
    for cx in (0.3, 0.7):
        lung = ((cols - cx) / 0.17) ** 2 + ((rows - 0.5) / 0.33) ** 2 < 1
        image[lung] = 0.15
        ribs = lung & (np.sin(rows * 60) > 0.6)
        image[ribs] = 0.4
    return image


def test_held_out_phantom_is_in_domain(reference):
    r = Radiograph(
        pixels=bone_xray.generate_case(999).pixels / 4095.0, source="dicom", path="x", modality="CR"
    )
    reasons, extra = domain_check(r, reference, [])
    assert reasons == [] and extra["domain_distance"] < reference["threshold"]


def test_chest_like_picture_is_out_of_domain_by_its_statistics(reference):
    warnings: list[str] = []
    r = Radiograph(pixels=chest_like(), source="picture", path="chest.png")
    reasons, extra = domain_check(r, reference, warnings)
    assert any("far from the training images" in reason for reason in reasons)
    assert extra["opinions_given"] and warnings  # statistics alone: flagged, opinions kept with a warning


def test_chest_header_means_no_opinion(reference):
    r = Radiograph(pixels=chest_like(), source="dicom", path="x", modality="DX", body_part="CHEST")
    reasons, extra = domain_check(r, reference, [])
    assert "body part CHEST" in reasons[0] and not extra["opinions_given"]


def test_real_ct_slice_is_out_of_domain(real_data, reference):
    first = sorted((real_data / "ct_dicom_series_j2k").iterdir())[0]
    reasons, extra = domain_check(load_radiograph(first), reference, [])
    assert reasons[0].startswith("modality CT") and not extra["opinions_given"]


def test_pictures_and_radiograph_modalities_pass_the_header_rules():
    assert header_reasons("", "") == [] and header_reasons("CR", "EXTREMITY") == []
    assert header_reasons("MR", "KNEE")
