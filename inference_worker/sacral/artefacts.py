"""Files an analysis leaves for the viewer: NIfTI masks and heat-maps, key-image PNGs."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from inference_worker.sacral.preprocess import STRUCTURES  # noqa: E402

DISPLAY_WINDOW = (-250.0, 1250.0)  # bone-and-soft-tissue window for key images


def write_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> Path:
    nib.save(nib.Nifti1Image(array, affine), str(path))
    return path


def map_crop_to_grid(
    cam: np.ndarray, centre: np.ndarray, side: float, shape, affine: np.ndarray
) -> np.ndarray:
    """A heat-map on the classifier's crop cube, placed on the CT grid (0 outside the cube)."""
    size = cam.shape[0]
    step = side / size
    out = np.zeros(shape, dtype=np.float32)
    # CT voxels whose centres fall in the cube: bound the box in voxel space first.
    corners = (
        centre + np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * side / 2
    )
    inv = np.linalg.inv(affine)
    vox = corners @ inv[:3, :3].T + inv[:3, 3]
    lo = np.clip(np.floor(vox.min(0)).astype(int), 0, np.array(shape) - 1)
    hi = np.clip(np.ceil(vox.max(0)).astype(int) + 1, 0, np.array(shape))
    idx = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij"), -1)
    world = idx.reshape(-1, 3) @ affine[:3, :3].T + affine[:3, 3]
    crop_idx = (world - centre) / step + (size - 1) / 2.0
    values = ndi.map_coordinates(cam.astype(np.float32), crop_idx.T, order=1, mode="constant", cval=0.0)
    out[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = values.reshape(idx.shape[:3])
    return out


def _radiological(slice_xy: np.ndarray) -> np.ndarray:
    """(x=R, y=A) slice -> display rows anterior-up, patient's right on the viewer's left."""
    return slice_xy[::-1, ::-1].T


def key_image(
    hu: np.ndarray, labels: np.ndarray, k: int, path: Path, heat: np.ndarray | None = None, title: str = ""
) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.imshow(_radiological(hu[:, :, k]), cmap="gray", vmin=DISPLAY_WINDOW[0], vmax=DISPLAY_WINDOW[1])
    if heat is not None:
        shown = np.ma.masked_less(_radiological(heat[:, :, k]), 0.05)
        ax.imshow(shown, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    for name, colour in (
        ("tumour", "yellow"),
        ("left_hip", "cyan"),
        ("right_hip", "magenta"),
        ("sacrum", "lime"),
    ):
        mask = _radiological(labels[:, :, k] == STRUCTURES[name])
        if mask.any():
            ax.contour(mask.astype(float), levels=[0.5], colors=colour, linewidths=1.0)
    ax.set_title(title, fontsize=9)
    ax.text(0.01, 0.01, "R", color="white", transform=ax.transAxes)
    ax.text(0.01, 0.93, "Research use only", color="orange", fontsize=7, transform=ax.transAxes)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
