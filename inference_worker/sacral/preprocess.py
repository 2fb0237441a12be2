"""Preprocessing as MONAI transforms: RAS orientation, fixed spacing, HU window.

Segmentation runs on a coarse grid (SEG_SPACING by default; a trained segmenter's card
names its own) because the pelvis is large and the CPU is small; the classifiers look
at a finer crop around the tumour.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Orientation, ScaleIntensityRange, Spacing

SEG_SPACING = (3.0, 3.0, 3.0)
# Wide window: fat and soft tissue (tumour matrix) and cortical bone all keep contrast.
HU_MIN, HU_MAX = -400.0, 1400.0
STRUCTURES = {"tumour": 1, "left_hip": 2, "right_hip": 3, "sacrum": 4}
N_SEG_CLASSES = 1 + len(STRUCTURES)
_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))


def hu_window() -> ScaleIntensityRange:
    return ScaleIntensityRange(a_min=HU_MIN, a_max=HU_MAX, b_min=0.0, b_max=1.0, clip=True)


def to_metatensor(array: np.ndarray, affine: np.ndarray) -> MetaTensor:
    """(X, Y, Z) array -> channel-first MetaTensor carrying its RAS affine."""
    return MetaTensor(
        torch.as_tensor(np.ascontiguousarray(array))[None].float(), affine=torch.as_tensor(affine)
    )


def image_transform(spacing=SEG_SPACING) -> Compose:
    return Compose(
        [
            Orientation(axcodes="RAS", labels=_LABELS),
            Spacing(pixdim=spacing, mode="bilinear", padding_mode="border"),
            hu_window(),
        ]
    )


def label_transform(spacing=SEG_SPACING) -> Compose:
    return Compose([Orientation(axcodes="RAS", labels=_LABELS), Spacing(pixdim=spacing, mode="nearest")])


def prepare_image(hu: np.ndarray, affine: np.ndarray, spacing=SEG_SPACING) -> MetaTensor:
    """HU volume -> windowed (1, X, Y, Z) tensor on the fixed-spacing grid, with its affine."""
    return image_transform(spacing)(to_metatensor(hu, affine))


def prepare_labels(labels: np.ndarray, affine: np.ndarray, spacing=SEG_SPACING) -> MetaTensor:
    return label_transform(spacing)(to_metatensor(labels.astype(np.float32), affine))


def affine_of(tensor: MetaTensor) -> np.ndarray:
    return np.asarray(tensor.affine, dtype=np.float64)
