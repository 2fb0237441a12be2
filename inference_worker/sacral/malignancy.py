"""Seed 000: benign vs malignant with a 3D DenseNet121, alone and with the reader.

The network sees the same two-channel tumour crop as the six-class model. The reader's
structured interpretation (suspicion 1-5 and four signs) is joined to the network's
logit by a logistic-regression stacker fitted on the validation split, so neither the
network nor the stacker scores data it was trained on.
"""

from __future__ import annotations

import math

import numpy as np
from monai.networks.nets import DenseNet121
from sklearn.linear_model import LogisticRegression

from inference_worker.sacral.ensemble import build_members

CLASSES = ("benign", "malignant")
SIGNS = ("cortical_destruction", "soft_tissue_mass", "matrix_mineralisation", "sclerotic_rim")
# DenseNet121's block layout (6, 12, 24, 16) is kept; width is reduced for the CPU.
DEFAULT_CONFIG = {"crop": 32, "init_features": 16, "growth_rate": 8, "dropout": 0.2}
CAM_LAYER = "class_layers.relu"  # after the last dense block's norm: spatial map per class


def build_malignancy(config: dict, seed: int | None = None):
    """One DenseNet121, or a probability-averaging ensemble of ``members`` of them; seeded
    like ``classifier.build_classifier``."""

    def one():
        return DenseNet121(
            spatial_dims=3,
            in_channels=2,
            out_channels=2,
            init_features=config["init_features"],
            growth_rate=config["growth_rate"],
            dropout_prob=config["dropout"],
        )

    return build_members(one, config.get("members", 1), seed)


def validate_reader(reader: dict) -> dict:
    """Check a reader interpretation; raise ValueError with the reason."""
    if not isinstance(reader, dict):
        raise ValueError("reader must be an object")
    suspicion = reader.get("suspicion")
    if not isinstance(suspicion, int | float) or not 1 <= float(suspicion) <= 5:
        raise ValueError("reader.suspicion must be a number from 1 to 5")
    signs = reader.get("signs") or {}
    unknown = sorted(set(signs) - set(SIGNS))
    if unknown:
        raise ValueError(f"unknown reader signs: {', '.join(unknown)}")
    return {"suspicion": float(suspicion), "signs": {s: bool(signs.get(s, False)) for s in SIGNS}}


def stacker_features(malignant_probability: np.ndarray, readers: list[dict]) -> np.ndarray:
    p = np.clip(np.asarray(malignant_probability, dtype=np.float64), 1e-6, 1 - 1e-6)
    rows = []
    for prob, reader in zip(p, readers, strict=True):
        r = validate_reader(reader)
        rows.append([math.log(prob / (1 - prob)), r["suspicion"]] + [float(r["signs"][s]) for s in SIGNS])
    return np.asarray(rows)


def fit_stacker(malignant_probability, readers, y_malignant) -> dict:
    y = np.asarray(y_malignant, dtype=int)
    x = stacker_features(malignant_probability, readers)
    if len(np.unique(y)) < 2:
        # Nothing to learn the reader's weight from: pass the model's logit through.
        return {
            "coef": [1.0] + [0.0] * (x.shape[1] - 1),
            "intercept": 0.0,
            "fallback": "one class in validation",
        }
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(x, y)
    return {"coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}


def apply_stacker(stacker: dict, malignant_probability, readers) -> np.ndarray:
    x = stacker_features(malignant_probability, readers)
    z = x @ np.asarray(stacker["coef"]) + stacker["intercept"]
    return 1.0 / (1.0 + np.exp(-z))
