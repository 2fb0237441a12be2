"""Clinical and location inputs of the fusion classifier, standardised.

Training statistics (mean, sd) are stored in the model card so the same scaling is
applied at inference. A missing age or sex becomes the training mean (z = 0): the
network then leans on the image, which is the honest fallback.
"""

from __future__ import annotations

import math

import numpy as np

CLINICAL = ("age", "sex_male", "log_volume_ml")
LOCATION = ("x", "y", "z", "extent_x", "extent_y", "extent_z")


def raw_clinical(clinical: dict | None, tumour_volume_ml: float) -> list[float]:
    clinical = clinical or {}
    age = clinical.get("age")
    sex = clinical.get("sex")
    return [
        float(age) if age is not None else math.nan,
        {"M": 1.0, "F": 0.0}.get(sex, math.nan),
        math.log1p(max(float(tumour_volume_ml), 0.0)),
    ]


def raw_location(location: dict | None) -> list[float]:
    if not location:
        return [math.nan] * len(LOCATION)
    return [float(v) for v in location["centroid"]] + [float(v) for v in location["extent"]]


def fit_stats(rows: np.ndarray) -> dict:
    mean = np.nanmean(rows, axis=0)
    sd = np.nanstd(rows, axis=0)
    sd = np.where(sd > 1e-6, sd, 1.0)
    return {"mean": mean.tolist(), "sd": sd.tolist()}


def standardise(rows: np.ndarray, stats: dict) -> np.ndarray:
    z = (np.asarray(rows, dtype=np.float32) - np.asarray(stats["mean"])) / np.asarray(stats["sd"])
    return np.nan_to_num(z, nan=0.0).astype(np.float32)
