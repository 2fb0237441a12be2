"""Out-of-domain check for the radiograph pipelines: header rules and image statistics.

Two layers, both cheap and explainable:
1. Header rules. A CT, MR or other non-projection modality, or a body part the task
   never sees (CHEST, SKULL, ...), is out of domain whatever the pixels look like.
2. Image statistics. A short feature vector of the whole image - a 16-bin grey-level
   histogram, 4 x 4 block means (coarse layout), mean, spread and edge density - and
   its Mahalanobis distance to the training images (Ledoit-Wolf shrunk covariance, since
   there are fewer images than one would want for 35 dimensions). The threshold is a
   margin over the largest distance seen among the training images themselves; the
   fitted mean, precision matrix and threshold live in the task's ``domain`` model card.

A header rule means no opinion at all (as the sacral pipeline does with a foreign CT):
the models cannot speak about a chest film. A statistics-only flag still gives the
opinions and heat-maps, marked out of domain with a warning: a real film analysed by
phantom-trained demo models is exactly that, and a teacher may still want to look.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.covariance import LedoitWolf

PROJECTION_MODALITIES = ("CR", "DX", "OT", "RG", "")  # "" = a PNG/JPEG without a header
FOREIGN_BODY_PARTS = ("CHEST", "THORAX", "LUNG", "SKULL", "HEAD", "BREAST", "ABDOMEN", "HEART")
THRESHOLD_MARGIN = 1.5
FEATURES = 16 + 16 + 3


def image_features(pixels: np.ndarray) -> np.ndarray:
    """The statistics vector of one [0, 1] image (any size)."""
    t = torch.as_tensor(np.ascontiguousarray(pixels, dtype=np.float32))[None, None]
    small = F.interpolate(t, size=(128, 128), mode="bilinear", antialias=True, align_corners=False)[
        0, 0
    ].numpy()
    hist = np.histogram(np.clip(small, 0, 1), bins=16, range=(0, 1))[0] / small.size
    blocks = small.reshape(4, 32, 4, 32).mean(axis=(1, 3)).ravel()
    gy, gx = np.gradient(small)
    edges = float(np.mean(np.hypot(gx, gy) > 0.05))
    return np.concatenate([hist, blocks, [small.mean(), small.std(), edges]]).astype(np.float64)


def fit_domain(features: np.ndarray) -> dict:
    """Reference statistics from training images' feature vectors (n, FEATURES)."""
    lw = LedoitWolf().fit(features)
    distances = _distance(features, lw.location_, lw.precision_)
    return {
        "mean": lw.location_.tolist(),
        "precision": lw.precision_.tolist(),
        "threshold": float(distances.max() * THRESHOLD_MARGIN),
        "training_max": float(distances.max()),
        "n": int(len(features)),
    }


def _distance(features: np.ndarray, mean, precision) -> np.ndarray:
    d = np.atleast_2d(features) - np.asarray(mean)
    return np.sqrt(np.einsum("ij,jk,ik->i", d, np.asarray(precision), d))


def header_reasons(modality: str, body_part: str) -> list[str]:
    reasons = []
    if modality.upper() not in PROJECTION_MODALITIES:
        reasons.append(f"modality {modality} is not a projection radiograph (CR/DX)")
    if body_part and any(part in body_part.upper() for part in FOREIGN_BODY_PARTS):
        reasons.append(f"body part {body_part} is not one this task was trained on")
    return reasons


def statistics_reason(pixels: np.ndarray, reference: dict | None) -> tuple[float | None, str | None]:
    """(distance, reason or None) of one image against a fitted reference."""
    if not reference:
        return None, None
    distance = float(_distance(image_features(pixels), reference["mean"], reference["precision"])[0])
    if distance > reference["threshold"]:
        return distance, (
            f"image statistics are far from the training images (Mahalanobis distance {distance:.1f}, "
            f"threshold {reference['threshold']:.1f})"
        )
    return distance, None


def domain_check(radiograph, reference: dict | None, warnings: list[str]) -> tuple[list[str], dict]:
    """(reasons, extra result fields) for one loaded radiograph; appends a warning when opinions go on."""
    reasons = header_reasons(radiograph.modality, radiograph.body_part)
    hard = bool(reasons)
    distance, reason = statistics_reason(radiograph.pixels, reference)
    if reason:
        reasons.append(reason)
        if not hard:
            warnings.append("out of the training distribution: the opinions below are not reliable")
    return reasons, {
        "domain_distance": distance,
        "opinions_given": not hard,
        "image_shape": list(radiograph.pixels.shape),
    }
