"""Per-case inputs of the classifiers, shared by training and inference so both see the
same crop, tabular vector and location."""

from __future__ import annotations

import numpy as np

from inference_worker.anatomy.hip_frame import hip_frame, tumour_location
from inference_worker.sacral.crop import tumour_crop
from inference_worker.sacral.preprocess import STRUCTURES
from inference_worker.sacral.tabular import raw_clinical, raw_location


def locate(labels: np.ndarray, affine: np.ndarray) -> dict | None:
    """Hip-frame location of the tumour, or None when a hip bone or the tumour is missing."""
    tumour = labels == STRUCTURES["tumour"]
    left, right = labels == STRUCTURES["left_hip"], labels == STRUCTURES["right_hip"]
    if tumour.sum() == 0 or left.sum() < 10 or right.sum() < 10:
        return None
    return tumour_location(tumour, affine, hip_frame(left, right, affine))


def case_features(hu, labels, affine, clinical: dict | None, crop: int) -> dict:
    tumour = labels == STRUCTURES["tumour"]
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    volume_ml = float(tumour.sum()) * voxel_ml
    location = locate(labels, affine)
    return {
        "crop": tumour_crop(hu, tumour, affine, crop),
        "volume_ml": volume_ml,
        "location": location,
        "clinical_raw": raw_clinical(clinical, volume_ml),
        "location_raw": raw_location(location),
    }


def tabular_raw(features: dict, columns: list[str]) -> list[float]:
    from inference_worker.sacral.tabular import CLINICAL, LOCATION

    values = dict(zip(CLINICAL, features["clinical_raw"], strict=True))
    values.update(zip(LOCATION, features["location_raw"], strict=True))
    return [values[c] for c in columns]
