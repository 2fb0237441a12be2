"""Second, fine stage of the sacral segmenter: the tumour outline at 2 mm in a crop.

The coarse segmenter works on a 4 mm grid, where the tumour's texture against the sacrum
(dense blastic tumour inside bone, bone fragments left in lytic tumour) is averaged
away; its tumour is fragmented and wanders at the sacral border. The fine stage is a
second MONAI UNet that sees the CT at the card's finer spacing, in a box around the
coarse tumour, or around the coarse tumour and sacrum together (the card's "box"), plus
a margin, so a coarse outline that falls short or wanders is not cut off. It predicts
the same five labels; on the CT grid only the tumour decision is taken from it: voxels
it calls tumour become tumour, and the coarse tumour's voxels get the fine network's
other label. Hip bones and sacrum elsewhere keep the coarse labels.

A model folder without a fine stage (trained before it existed) still works: the
pipeline falls back to the coarse outline and says so (``FINE_MISSING_WARNING``).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from monai.networks.nets import UNet
from scipy import ndimage as ndi

from inference_worker.sacral.preprocess import STRUCTURES, affine_of, prepare_image
from inference_worker.sacral.segmentation import (
    build_segmenter,
    predict_probabilities,
    resample_probabilities,
    sacral_tumour_component,
)

NAME = "segmenter-fine"
DEFAULT_CONFIG = {
    "channels": [8, 16, 32, 64],
    "strides": [2, 2, 2],
    "num_res_units": 1,
    "roi": [48, 48, 48],
    "spacing": [2.0, 2.0, 2.0],
    # Around the box: the coarse outline often falls short of the truth by a few coarse
    # voxels, and the network needs some context at the box's edge.
    "margin_mm": 20.0,
    "box": "tumour",
    "flip": False,
}
FINE_MISSING_WARNING = "no fine tumour stage in this model folder: tumour outlined on the coarse grid only"
_TUMOUR = STRUCTURES["tumour"]


def build_fine_segmenter(config: dict) -> UNet:
    # The same network family as the coarse stage, on its own (finer) grid and weights.
    return build_segmenter(config)


def world_box(mask: np.ndarray, affine: np.ndarray, margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) RAS corners in mm of a mask's voxels, widened by the margin on every side."""
    idx = np.argwhere(mask)
    corners = np.array([idx.min(0), idx.max(0)], dtype=float)
    world = (affine[:3, :3] @ corners.T).T + affine[:3, 3]
    return world.min(0) - margin_mm, world.max(0) + margin_mm


def at_least_window(lo, hi, config: dict) -> tuple[np.ndarray, np.ndarray]:
    """A world box widened about its centre to at least one network window per axis, so
    a small tumour's window holds CT all round instead of the sliding window's padding
    (training crops never show padding)."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    need = np.asarray(config["roi"], dtype=float) * np.asarray(config["spacing"], dtype=float)
    grow = np.maximum(need - (hi - lo), 0.0) / 2.0
    return lo - grow, hi + grow


def index_box(shape, affine: np.ndarray, lo_mm, hi_mm) -> tuple[np.ndarray, np.ndarray]:
    """Voxel index range [start, stop) of a grid covering a world box (clipped to the grid)."""
    inv = np.linalg.inv(affine)
    corners = np.array(
        [[x, y, z] for x in (lo_mm[0], hi_mm[0]) for y in (lo_mm[1], hi_mm[1]) for z in (lo_mm[2], hi_mm[2])]
    )
    idx = (inv[:3, :3] @ corners.T).T + inv[:3, 3]
    start = np.clip(np.floor(idx.min(0)).astype(int), 0, np.array(shape))
    stop = np.clip(np.ceil(idx.max(0)).astype(int) + 1, 0, np.array(shape))
    return start, stop


def crop_volume(volume: np.ndarray, affine: np.ndarray, start, stop) -> tuple[np.ndarray, np.ndarray]:
    """A sub-volume and its own affine (the origin moved to its first voxel)."""
    sub = volume[start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]]
    sub_affine = affine.copy()
    sub_affine[:3, 3] = affine[:3, :3] @ np.asarray(start, dtype=float) + affine[:3, 3]
    return sub, sub_affine


def fine_image(hu: np.ndarray, affine: np.ndarray, lo_mm, hi_mm, spacing):
    """The CT inside a world box on the fine grid (windowed, RAS), cropped before resampling
    so a 512x512 CT costs no more than its box."""
    start, stop = index_box(hu.shape, affine, lo_mm, hi_mm)
    sub, sub_affine = crop_volume(hu, affine, start, stop)
    return prepare_image(sub, sub_affine, tuple(spacing))


def keep_fine_tumour(probs: torch.Tensor) -> torch.Tensor:
    """Fine probabilities with the tumour channel suppressed outside one component.

    The same rule as the coarse stage (the largest component touching the sacrum, here
    the fine grid's sacrum), so a false blob in the crop cannot survive resampling.
    """
    labels = probs.argmax(0).numpy()
    tumour = labels == _TUMOUR
    keep = probs.clone()
    if not tumour.any():
        keep[_TUMOUR] = 0.0
        return keep
    kept = sacral_tumour_component(tumour, labels == STRUCTURES["sacrum"])
    allowed = ndi.binary_dilation(kept, iterations=1)
    keep[_TUMOUR][torch.as_tensor(~allowed)] = 0.0
    return keep


def merge_tumour(coarse: np.ndarray, fine: np.ndarray, start, stop) -> np.ndarray:
    """CT-grid labels: inside the fine box, the tumour decision is the fine stage's.

    Voxels the fine stage calls tumour become tumour; the coarse tumour's voxels that it
    does not take get its other label (sacrum, background, ...). Outside the box, which
    holds the whole coarse tumour, nothing changes (a coarse tumour outside it is dropped).
    """
    out = coarse.copy()
    out[out == _TUMOUR] = 0
    box = tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))
    inner_coarse, inner_fine = coarse[box], fine[box]
    inner = out[box]
    was_tumour = inner_coarse == _TUMOUR
    inner[was_tumour] = inner_fine[was_tumour]
    inner[inner_fine == _TUMOUR] = _TUMOUR
    out[box] = inner
    return out


def fine_box(coarse_labels: np.ndarray, coarse_affine: np.ndarray, config: dict):
    """World box (lo, hi) the fine stage segments: around the coarse tumour, or (config
    "box": "sacrum") around the coarse tumour and sacrum together, so a tumour the coarse
    stage took for sacrum is still inside; plus the margin, at least one window wide."""
    mask = coarse_labels == _TUMOUR
    if config.get("box", "tumour") == "sacrum":
        mask = mask | (coarse_labels == STRUCTURES["sacrum"])
    return at_least_window(*world_box(mask, coarse_affine, float(config["margin_mm"])), config)


def fine_probabilities(fine_net: torch.nn.Module, image: torch.Tensor, config: dict, device) -> torch.Tensor:
    """Softmax on the fine grid; with config "flip", averaged with the left-right mirror
    (its hip channels swapped back), which costs one more pass over a small box."""
    probs = predict_probabilities(fine_net, image, config["roi"], device)
    if config.get("flip"):
        mirrored = predict_probabilities(fine_net, image.flip(1), config["roi"], device).flip(1)
        left, right = STRUCTURES["left_hip"], STRUCTURES["right_hip"]
        mirrored[[left, right]] = mirrored[[right, left]]
        probs = (probs + mirrored) / 2
    return probs


def paste_fine(
    probs: torch.Tensor, fine_affine: np.ndarray, labels: np.ndarray, affine: np.ndarray, box
) -> np.ndarray:
    """Fine probabilities (C, fine grid) -> CT-grid labels with the fine tumour merged in.

    Through the pipeline's own path: one tumour component kept, class probabilities
    interpolated to the CT grid (``resample_probabilities``), then ``merge_tumour``
    inside the CT voxels of the world box.
    """
    fine_labels = resample_probabilities(keep_fine_tumour(probs), fine_affine, labels.shape, affine)
    start, stop = index_box(labels.shape, affine, *box)
    return merge_tumour(labels, fine_labels, start, stop)


def refine(
    fine_net: torch.nn.Module,
    config: dict,
    hu: np.ndarray,
    affine: np.ndarray,
    coarse_labels: np.ndarray,
    coarse_affine: np.ndarray,
    labels: np.ndarray,
    device,
) -> tuple[np.ndarray, dict]:
    """Replace the tumour of ``labels`` (CT grid) with the fine stage's, in the box that
    ``coarse_labels`` (the kept coarse components) give. Returns (labels, info)."""
    if not (coarse_labels == _TUMOUR).any():
        return labels, {"applied": False, "reason": "no coarse tumour"}
    t0 = time.perf_counter()
    box = fine_box(coarse_labels, coarse_affine, config)
    image = fine_image(hu, affine, *box, config["spacing"])
    probs = fine_probabilities(fine_net, image, config, device)
    merged = paste_fine(probs, affine_of(image), labels, affine, box)
    if not (merged == _TUMOUR).any():
        # The fine stage refines the outline; it does not overrule the detection. With
        # no tumour left the pipeline would call the scan tumour-free, so the coarse
        # outline stays (and says so).
        return labels, {
            "applied": False,
            "reason": "fine stage found no tumour: coarse outline kept",
            "seconds": round(time.perf_counter() - t0, 3),
        }
    info = {
        "applied": True,
        "box_mm": [np.round(box[0], 1).tolist(), np.round(box[1], 1).tolist()],
        "grid": list(image.shape[1:]),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return merged, info
