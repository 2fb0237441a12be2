"""Model 1 of seed 001: segment the tumour, both hip bones and the sacrum.

A small MONAI UNet on the 3 mm grid, sliding-window inference, one connected component
kept per structure (so exactly one tumour and one of each bone remain), then the labels
are brought back to the CT's own grid by interpolating the class probabilities.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet
from monai.transforms import KeepLargestConnectedComponent
from scipy import ndimage as ndi

from inference_worker.sacral.preprocess import N_SEG_CLASSES, STRUCTURES, affine_of, prepare_image

DEFAULT_CONFIG = {
    "channels": [8, 16, 32, 64],
    "strides": [2, 2, 2],
    "num_res_units": 1,
    "roi": [64, 64, 64],
}


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
        image[None].to(device), roi_size=tuple(roi), sw_batch_size=2, predictor=net, overlap=0.25, mode="gaussian"
    )
    return torch.softmax(logits[0].float(), dim=0).cpu()


def keep_largest(labels: torch.Tensor) -> torch.Tensor:
    """(1, X, Y, Z) integer labels with one connected component per structure."""
    post = KeepLargestConnectedComponent(applied_labels=list(STRUCTURES.values()), independent=True)
    return post(labels)


def _grid_map(source_affine: np.ndarray, target_affine: np.ndarray) -> np.ndarray:
    """4x4 mapping target voxel indices -> source voxel indices."""
    return np.linalg.inv(source_affine) @ target_affine


def resample_probabilities(
    probs: torch.Tensor, probs_affine: np.ndarray, shape: tuple[int, int, int], affine: np.ndarray, chunk: int = 16
) -> np.ndarray:
    """Trilinear class probabilities -> argmax labels (uint8) on another grid, z-chunked.

    Chunking keeps a 512x512x100 target within a few hundred MB.
    """
    mapping = _grid_map(probs_affine, affine)
    size = np.array(probs.shape[1:], dtype=np.float64)
    out = np.zeros(shape, dtype=np.uint8)
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    src = probs[None].float()
    for z0 in range(0, shape[2], chunk):
        zs = np.arange(z0, min(z0 + chunk, shape[2]))
        idx = np.stack(
            [
                np.broadcast_to(ii[..., None], (*ii.shape, len(zs))),
                np.broadcast_to(jj[..., None], (*ii.shape, len(zs))),
                np.broadcast_to(zs, (*ii.shape, len(zs))),
            ],
            axis=-1,
        ).reshape(-1, 3)
        pts = idx @ mapping[:3, :3].T + mapping[:3, 3]
        # grid_sample wants (x, y, z) = (last, middle, first) dims normalised to [-1, 1].
        norm = 2.0 * pts / np.maximum(size - 1, 1) - 1.0
        grid = torch.as_tensor(norm[:, ::-1].copy(), dtype=torch.float32).reshape(1, *ii.shape, len(zs), 3)
        grid = grid.permute(0, 3, 2, 1, 4)  # (1, Z, Y, X, 3): output D,H,W order
        sampled = F.grid_sample(src.permute(0, 1, 4, 3, 2), grid, mode="bilinear", align_corners=True)
        # sampled (1, C, Z, Y, X); outside the source grid grid_sample gives 0 -> background
        labels = sampled[0].argmax(0).permute(2, 1, 0).numpy().astype(np.uint8)
        outside = sampled[0].sum(0).permute(2, 1, 0).numpy() < 0.5
        labels[outside] = 0
        out[:, :, zs[0] : zs[-1] + 1] = labels
    return out


def segment(net: torch.nn.Module, hu: np.ndarray, affine: np.ndarray, config: dict, device) -> dict:
    """Segment one CT. Returns labels on the CT grid and on the 3 mm grid, plus confidence."""
    image = prepare_image(hu, affine)
    probs = predict_probabilities(net, image, config["roi"], device)
    coarse = keep_largest(probs.argmax(0, keepdim=True)).to(torch.uint8)
    # Suppress each structure's probability outside (a one-voxel margin around) its kept
    # component, so interpolation cannot resurrect a discarded blob on the fine grid.
    keep = probs.clone()
    coarse_np = coarse[0].numpy()
    for value in STRUCTURES.values():
        allowed = ndi.binary_dilation(coarse_np == value, iterations=1)
        keep[value][torch.as_tensor(~allowed)] = 0.0
    labels = resample_probabilities(keep, affine_of(image), hu.shape, affine)
    foreground = coarse_np > 0
    confidence = float(probs.max(0).values.numpy()[foreground].mean()) if foreground.any() else 0.0
    return {
        "labels": labels,
        "coarse_labels": coarse_np,
        "coarse_affine": affine_of(image),
        "coarse_image": image[0].numpy(),
        "confidence": confidence,
    }


def structure_volumes(labels: np.ndarray, affine: np.ndarray) -> dict:
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    counts = np.bincount(labels.ravel(), minlength=N_SEG_CLASSES)
    return {name: {"voxels": int(counts[v]), "volume_ml": round(float(counts[v]) * voxel_ml, 3)} for name, v in STRUCTURES.items()}
