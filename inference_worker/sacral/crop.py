"""The tumour region the classifiers look at: a cube around the segmented tumour.

The cube's side follows the tumour (with a floor), so small and large tumours fill the
input alike; size itself reaches the classifier as the tumour-volume input instead.
Two channels: windowed HU, and the tumour mask (so the network knows which of the
abnormal-looking voxels it is asked about).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from inference_worker.anatomy.hip_frame import voxel_points_mm
from inference_worker.sacral.preprocess import HU_MAX, HU_MIN

MIN_SIDE_MM = 60.0
MARGIN = 1.3  # side = 1.3 x the tumour's largest extent: some surrounding bone for context


def crop_geometry(tumour_mask: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, float]:
    points = voxel_points_mm(tumour_mask, affine)
    if len(points) == 0:
        raise ValueError("empty tumour mask: nothing to crop")
    centre = points.mean(axis=0)
    extent = float((points.max(0) - points.min(0)).max())
    return centre, max(MIN_SIDE_MM, MARGIN * extent)


def tumour_crop(hu: np.ndarray, tumour_mask: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """(2, size, size, size) float32: windowed HU in [0, 1] and the tumour mask, RAS-aligned."""
    centre, side = crop_geometry(tumour_mask, affine)
    step = side / size
    offsets = (np.arange(size) - (size - 1) / 2.0) * step
    grid = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), axis=-1) + centre
    voxel = (grid.reshape(-1, 3) - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    coords = voxel.T
    image = ndi.map_coordinates(hu.astype(np.float32, copy=False), coords, order=1, mode="nearest")
    mask = ndi.map_coordinates(tumour_mask.astype(np.float32), coords, order=1, mode="constant", cval=0.0)
    image = (np.clip(image, HU_MIN, HU_MAX) - HU_MIN) / (HU_MAX - HU_MIN)
    return np.stack([image, mask]).reshape(2, size, size, size).astype(np.float32)
