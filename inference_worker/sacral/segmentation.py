"""Model 1 of seed 001: segment the tumour, both hip bones and the sacrum.

A small MONAI UNet on a coarse grid (the card's spacing: 4 mm in the current training),
sliding-window inference, one connected component kept per structure (so exactly one
tumour and one of each bone remain: the largest for each bone, the one touching the
sacrum for the tumour), then the labels are brought back to the CT's own
grid by interpolating the class probabilities.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet
from monai.transforms import KeepLargestConnectedComponent
from scipy import ndimage as ndi

from inference_worker.sacral.preprocess import (
    N_SEG_CLASSES,
    SEG_SPACING,
    STRUCTURES,
    affine_of,
    prepare_image,
)

DEFAULT_CONFIG = {
    "channels": [8, 16, 32, 64],
    "strides": [2, 2, 2],
    "num_res_units": 1,
    "roi": [64, 64, 64],
    "spacing": list(SEG_SPACING),
}


def grid_spacing(config: dict) -> tuple[float, float, float]:
    """The grid a segmenter was trained on (cards written before it was stored: 3 mm)."""
    return tuple(float(v) for v in config.get("spacing", SEG_SPACING))


def build_segmenter(config: dict) -> UNet:
    return UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=N_SEG_CLASSES,
        channels=tuple(config["channels"]),
        strides=tuple(config["strides"]),
        num_res_units=config["num_res_units"],
    )


@torch.no_grad()
def predict_probabilities(net: torch.nn.Module, image: torch.Tensor, roi, device) -> torch.Tensor:
    """(1, X, Y, Z) windowed image -> (C, X, Y, Z) softmax probabilities on the same grid."""
    logits = sliding_window_inference(
        image[None].to(device),
        roi_size=tuple(roi),
        sw_batch_size=2,
        predictor=net,
        overlap=0.25,
        mode="gaussian",
    )
    return torch.softmax(logits[0].float(), dim=0).cpu()


def keep_largest(labels: torch.Tensor) -> torch.Tensor:
    """(1, X, Y, Z) integer labels with the largest connected component of each structure."""
    post = KeepLargestConnectedComponent(applied_labels=list(STRUCTURES.values()), independent=True)
    return post(labels)


_FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


def sacral_tumour_component(tumour: np.ndarray, sacrum: np.ndarray) -> np.ndarray:
    """The one tumour component to keep: the largest of those touching the sacrum.

    A sacral tumour grows from the sacrum, so the true component touches it. Bowel and
    rectum in front of the sacrum look like a presacral soft-tissue mass, and a false blob
    there can be larger than the true tumour; the seed paper's "largest component" then
    keeps the wrong one. Touching means a voxel within one voxel (26-neighbourhood) of the
    predicted sacrum. Among touching components the largest wins, not the one with most
    contact: small false fragments inside the sacrum touch it all round. With no sacrum,
    or no component touching it, the largest component is kept as before.
    """
    components, n = ndi.label(tumour, structure=_FULL_CONNECTIVITY)
    if n <= 1:
        return components > 0
    sizes = np.bincount(components.ravel(), minlength=n + 1)[1:]
    touching = np.zeros(n, dtype=bool)
    if sacrum.any():
        near = ndi.binary_dilation(sacrum, structure=_FULL_CONNECTIVITY)
        touching = np.bincount(components[near].ravel(), minlength=n + 1)[1:] > 0
    candidates = np.where(touching, sizes, -1) if touching.any() else sizes
    return components == int(np.argmax(candidates)) + 1


def keep_components(labels: torch.Tensor) -> torch.Tensor:
    """(1, X, Y, Z) integer labels with one connected component per structure.

    Each bone keeps its largest component; the tumour keeps the component touching the
    kept sacrum most (see ``sacral_tumour_component``).
    """
    tumour_value, sacrum_value = STRUCTURES["tumour"], STRUCTURES["sacrum"]
    raw_tumour = np.asarray(labels[0]) == tumour_value
    # MONAI's transform may edit its input in place: give it a copy.
    out = np.asarray(keep_largest(labels.clone())[0]).copy()
    out[out == tumour_value] = 0
    out[sacral_tumour_component(raw_tumour, out == sacrum_value)] = tumour_value
    return torch.as_tensor(out, dtype=labels.dtype)[None]


def _grid_map(source_affine: np.ndarray, target_affine: np.ndarray) -> np.ndarray:
    """4x4 mapping target voxel indices -> source voxel indices."""
    return np.linalg.inv(source_affine) @ target_affine


def _axis_weights(target_index: np.ndarray, scale: float, offset: float, size: int):
    """Linear-interpolation neighbours and weights along one axis (clamped at the edges)."""
    pos = np.clip(target_index * scale + offset, 0, size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, size - 1)
    w = (pos - lo).astype(np.float32)
    return torch.as_tensor(lo), torch.as_tensor(hi), torch.as_tensor(w)


def _lerp(t: torch.Tensor, dim: int, lo, hi, w) -> torch.Tensor:
    shape = [1] * t.dim()
    shape[dim] = -1
    w = w.reshape(shape)
    return t.index_select(dim, lo) * (1 - w) + t.index_select(dim, hi) * w


def resample_probabilities(
    probs: torch.Tensor,
    probs_affine: np.ndarray,
    shape: tuple[int, int, int],
    affine: np.ndarray,
    chunk: int = 16,
) -> np.ndarray:
    """Class probabilities -> argmax labels (uint8) on another grid.

    Both grids come out of RAS reorientation, so the map between them is a per-axis
    scale and shift: separable linear interpolation, done in z chunks and only inside
    the box the structures occupy, keeps a 512x512x100 target around a second.
    """
    mapping = _grid_map(probs_affine, affine)
    if np.abs(mapping[:3, :3] - np.diag(np.diag(mapping[:3, :3]))).max() > 1e-6:
        raise ValueError("oblique grids are not supported by the separable resampler")
    scales, offsets = np.diag(mapping[:3, :3]), mapping[:3, 3]
    out = np.zeros(shape, dtype=np.uint8)
    fg = (probs[1:].amax(0) > 0.2).numpy()
    if not fg.any():
        return out
    # Target box: the source foreground box (plus one source voxel) mapped back.
    src_lo = np.argwhere(fg).min(0) - 1
    src_hi = np.argwhere(fg).max(0) + 1
    lo = np.floor((np.minimum(src_lo, src_hi) - offsets) / scales).astype(int)
    hi = np.ceil((np.maximum(src_lo, src_hi) - offsets) / scales).astype(int)
    box_lo = np.clip(np.minimum(lo, hi), 0, np.array(shape))
    box_hi = np.clip(np.maximum(lo, hi) + 1, 0, np.array(shape))
    size = probs.shape[1:]
    ax = [_axis_weights(np.arange(box_lo[a], box_hi[a]), scales[a], offsets[a], size[a]) for a in range(2)]
    src = probs.float()
    for z0 in range(box_lo[2], box_hi[2], chunk):
        zs = np.arange(z0, min(z0 + chunk, box_hi[2]))
        t = _lerp(src, 3, *_axis_weights(zs, scales[2], offsets[2], size[2]))
        t = _lerp(t, 2, *ax[1])
        t = _lerp(t, 1, *ax[0])
        out[box_lo[0] : box_hi[0], box_lo[1] : box_hi[1], zs[0] : zs[-1] + 1] = (
            t.argmax(0).numpy().astype(np.uint8)
        )
    return out


def segment(
    net: torch.nn.Module, hu: np.ndarray, affine: np.ndarray, config: dict, device, fine=None
) -> dict:
    """Segment one CT. Returns labels on the CT grid and on the coarse grid, plus confidence.

    ``fine``: (network, config) of the fine tumour stage (``fine_stage``), or None for the
    coarse outline alone. The coarse labels, probabilities and confidence are the coarse
    stage's either way; ``labels`` carries the fine tumour when the stage ran.
    """
    image = prepare_image(hu, affine, grid_spacing(config))
    probs = predict_probabilities(net, image, config["roi"], device)
    coarse_affine = affine_of(image)
    coarse_np = keep_components(probs.argmax(0, keepdim=True)).to(torch.uint8)[0].numpy()
    labels = labels_on_grid(probs, coarse_np, coarse_affine, hu.shape, affine)
    fine_info = {"applied": False, "reason": "no fine stage"}
    if fine is not None:
        from inference_worker.sacral import fine_stage  # it imports this module

        fine_net, fine_config = fine
        labels, fine_info = fine_stage.refine(
            fine_net,
            fine_config,
            hu,
            affine,
            coarse_np,
            coarse_affine,
            labels,
            device,
        )
    foreground = coarse_np > 0
    confidence = float(probs.max(0).values.numpy()[foreground].mean()) if foreground.any() else 0.0
    return {
        "labels": labels,
        "fine": fine_info,
        "coarse_labels": coarse_np,
        "coarse_affine": coarse_affine,
        "coarse_image": image[0].numpy(),
        "coarse_probabilities": probs,
        "confidence": confidence,
    }


def labels_on_grid(probs, coarse_labels: np.ndarray, coarse_affine, shape, affine) -> np.ndarray:
    """The kept coarse components brought to another grid (the CT's) through their probabilities.

    Each structure's probability is suppressed outside (a one-voxel margin around) its
    kept component, so interpolation cannot resurrect a discarded blob on the fine grid.
    """
    keep = probs.clone()
    for value in STRUCTURES.values():
        allowed = ndi.binary_dilation(coarse_labels == value, iterations=1)
        keep[value][torch.as_tensor(~allowed)] = 0.0
    return resample_probabilities(keep, coarse_affine, shape, affine)


def structure_volumes(labels: np.ndarray, affine: np.ndarray) -> dict:
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    counts = np.bincount(labels.ravel(), minlength=N_SEG_CLASSES)
    return {
        name: {"voxels": int(counts[v]), "volume_ml": round(float(counts[v]) * voxel_ml, 3)}
        for name, v in STRUCTURES.items()
    }
