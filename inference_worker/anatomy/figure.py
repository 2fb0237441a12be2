"""Draw docs/hip_frame.png: the hip-bone frame on a real pelvis CT.

Run: ``python -m inference_worker.anatomy.figure [CT.nii.gz] [OUT.png]``. Hip bones are
found by a bone threshold and connected components (good enough for a figure on the
real TotalSegmentator test CT; the pipeline uses its segmentation model).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from inference_worker.anatomy.hip_frame import hip_frame  # noqa: E402
from inference_worker.io.ct import load_ct  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CT = REPO / "inference_worker" / "phantoms" / "data" / "ct_pelvis_totalseg" / "ct.nii.gz"


def hip_bones_by_threshold(hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bone > 150 HU, one erosion to cut the sacroiliac joints, the two most lateral of
    the three largest components (left hip, right hip, spine) ordered left then right."""
    bone = ndi.binary_closing(hu > 150, iterations=1)
    core = ndi.binary_erosion(bone, iterations=1)
    labels, n = ndi.label(core)
    sizes = ndi.sum(core, labels, range(1, n + 1))
    biggest = list(np.argsort(sizes)[::-1][:3] + 1)
    centre_x = {lab: np.argwhere(labels == lab)[:, 0].mean() for lab in biggest}
    mid = hu.shape[0] / 2
    lateral = sorted(biggest, key=lambda lab: abs(centre_x[lab] - mid), reverse=True)[:2]
    lateral.sort(key=lambda lab: centre_x[lab])  # RAS: lower x index = patient's left
    return labels == lateral[0], labels == lateral[1]


def draw(ct_path: Path = DEFAULT_CT, out: Path = REPO / "docs" / "hip_frame.png") -> Path:
    ct = load_ct(ct_path)
    left, right = hip_bones_by_threshold(ct.hu)
    frame = hip_frame(left, right, ct.affine)
    inv = np.linalg.inv(ct.affine)
    origin_vox = inv[:3, :3] @ frame.origin + inv[:3, 3]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), dpi=110)
    views = (
        (
            "Coronal view (from the front)",
            1,
            0,
            "x: toward the patient's right, shown on the viewer's left",
        ),
        ("Sagittal view (patient's left side)", 0, 1, "posterior  <-  y  ->  anterior"),
    )
    for ax, (title, collapse, h, xlabel) in zip(axes, views, strict=True):
        bone_mip = np.clip(ct.hu, -200, 1000).max(axis=collapse)
        hips = (left | right).max(axis=collapse).astype(float)
        extent = [0, ct.hu.shape[h] * ct.spacing[h], 0, ct.hu.shape[2] * ct.spacing[2]]
        ax.imshow(bone_mip.T, origin="lower", cmap="gray", extent=extent)
        ax.imshow(np.ma.masked_equal(hips.T, 0), origin="lower", cmap="autumn", extent=extent, alpha=0.5)
        o = origin_vox * np.array(ct.spacing)
        scale_len = frame.scale * 0.5
        for axis_vec, colour, name in zip(
            frame.axes, ("tab:red", "tab:green", "tab:blue"), ("x", "y", "z"), strict=True
        ):
            d = np.array([axis_vec[h], axis_vec[2]]) * scale_len
            if np.linalg.norm(d) < 1e-3 * scale_len:
                continue
            ax.annotate(
                "",
                xy=(o[h] + d[0], o[2] + d[1]),
                xytext=(o[h], o[2]),
                arrowprops={"arrowstyle": "->", "color": colour, "lw": 2},
            )
            ax.text(o[h] + d[0] * 1.08, o[2] + d[1] * 1.08, name, color=colour, fontsize=11, weight="bold")
        ax.plot(o[h], o[2], "ko")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"mm ({xlabel})")
        ax.set_ylabel("mm (inferior -> superior)")
        if collapse == 1:
            ax.invert_xaxis()  # show the patient's right on the viewer's left
    fig.suptitle(
        f"Hip-bone frame: origin = midpoint of hip-bone centroids, scale = {frame.scale:.0f} mm "
        f"(1 unit), superior axis from {frame.superior_from.replace('_', ' ')}",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    print(draw(*(Path(a) for a in args)))
