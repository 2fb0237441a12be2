"""Hybrid sacral CT: phantom tumours inserted into a real pelvis CT.

Base image: the TotalSegmentator test CT shipped in inference_worker/phantoms/data/ct_pelvis_totalseg
(3 mm, RAS). Its hip-bone and sacrum labels are derived here, approximately:

- bone = HU > 180 after a small closing, holes filled, below the top of L5 (inside the
  sacral wedge HU > 110, closed twice and hole-filled, for the fatty sacral marrow);
- sacrum = bone below the top of S1 (TotalSegmentator label 26) inside a wedge around
  S1's midline whose half-width shrinks from 55 mm at S1 to 15 mm 120 mm lower,
  and not more than 30 mm anterior to S1's centre (keeps the pubis out);
- hip bones = remaining bone below the iliac crest that is not a vertebra, split at
  S1's midline into left (RAS -x) and right; the femoral head and neck are removed
  where they separate from the acetabulum after one erosion, otherwise they stay in.
Expect errors of a few millimetres at the sacroiliac joints and acetabula: good for
testing pipelines and teaching, not a reference segmentation.

Each case applies a random affine plus smooth elastic deformation to image and
labels, then paints a tumour drawn from the same priors and appearance models as the
pure phantom.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from scipy import ndimage

from inference_worker.phantoms.sacral_ct import LABELS, PhantomCT
from inference_worker.phantoms.sacral_lesions import paint_lesion
from inference_worker.phantoms.sacral_priors import LEVEL_SPANS, sample_presentation

# Shipped with the package (origin and licence: data/NOTICE.md), so no path outside the repo.
REAL_CT = Path(__file__).resolve().parent / "data" / "ct_pelvis_totalseg"
S1_LABEL, L5_LABEL = 26, 27


@functools.lru_cache(maxsize=1)
def real_pelvis() -> dict:
    """Load the real CT once per process and derive its bone labels."""
    import nibabel as nib

    image = nib.as_closest_canonical(nib.load(REAL_CT / "ct.nii.gz"))
    hu = np.asarray(image.dataobj, dtype=np.float32)
    verts = np.asarray(nib.as_closest_canonical(nib.load(REAL_CT / "vertebrae_labels.nii.gz")).dataobj)
    affine = image.affine
    spacing = np.abs(np.diag(affine)[:3])
    s1 = np.argwhere(verts == S1_LABEL)
    s1_top = int(s1[:, 2].max())
    l5_top = int(np.argwhere(verts == L5_LABEL)[:, 2].max())
    mid_x, s1_y = s1[:, 0].mean(), s1[:, 1].mean()
    bone = ndimage.binary_closing(hu > 180, iterations=1)
    bone = np.stack([ndimage.binary_fill_holes(bone[:, :, k]) for k in range(bone.shape[2])], axis=-1)
    bone[:, :, l5_top + 1 :] = False
    i, j, k = np.indices(bone.shape)
    below = (s1_top - k) * spacing[2]  # mm below the top of S1
    half = np.interp(below, [0, 120], [55, 15])
    wedge = (np.abs(i - mid_x) * spacing[0] < half) & (below >= 0) & (below < 140)
    wedge &= (j - s1_y) * spacing[1] < 30
    # The sacral body is fatty marrow (often < 180 HU) inside a thin cortex: use a
    # lower threshold inside the wedge and fill each slice's holes.
    soft_bone = ndimage.binary_closing((hu > 110) & wedge, iterations=2)
    soft_bone = np.stack([ndimage.binary_fill_holes(soft_bone[:, :, k]) for k in range(hu.shape[2])], axis=-1)
    sacrum = (bone | soft_bone) & wedge & ((verts == 0) | (verts == S1_LABEL))
    sacrum = _largest(sacrum)
    hips = bone & ~sacrum & (verts == 0) & (below > -45)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    for side, code in ((i < mid_x, LABELS["hip_left"]), (i >= mid_x, LABELS["hip_right"])):
        # RAS: index i grows toward the patient's right, so the left side has small i.
        part = _drop_femur(hips & side)
        labels[part] = code
    labels[sacrum] = LABELS["sacrum"]
    return {
        "hu": hu,
        "labels": labels,
        "affine": affine,
        "spacing": spacing,
        "s1_top": s1_top,
        "mid_x": mid_x,
    }


def _largest(mask):
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())[1:]
    return lab == (1 + int(np.argmax(sizes)))


def _drop_femur(mask):
    """Keep the hip bone: after one erosion the femur usually comes apart at the joint."""
    eroded = ndimage.binary_erosion(mask)
    lab, n = ndimage.label(eroded)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())[1:]
    keep = lab == (1 + int(np.argmax(sizes)))
    return ndimage.binary_dilation(keep) & mask


def _deformation(shape, spacing, rng):
    """Sample coordinates: random affine about the centre plus a smooth elastic field."""
    centre = (np.array(shape) - 1) / 2
    angles = np.radians(rng.uniform(-4, 4, 3))
    cx, sx = np.cos(angles), np.sin(angles)
    rot = (
        np.array([[1, 0, 0], [0, cx[0], -sx[0]], [0, sx[0], cx[0]]])
        @ np.array([[cx[1], 0, sx[1]], [0, 1, 0], [-sx[1], 0, cx[1]]])
        @ np.array([[cx[2], -sx[2], 0], [sx[2], cx[2], 0], [0, 0, 1]])
    )
    matrix = rot * rng.uniform(0.94, 1.06)
    shift = rng.uniform(-5, 5, 3) / spacing
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1) - centre[:, None]
    coords = (matrix @ grid) + centre[:, None] + shift[:, None]
    coords = coords.reshape((3, *shape))
    # Elastic part: smooth noise, ~3 mm amplitude, ~25 mm correlation length.
    small = tuple(max(4, n // 8) for n in shape)
    for a in range(3):
        field = ndimage.gaussian_filter(rng.standard_normal(small), 1.0)
        field *= 3.0 / (np.abs(field).max() + 1e-6) / spacing[a]
        coords[a] += ndimage.zoom(field, [n / m for n, m in zip(shape, small, strict=True)], order=1)
    return coords


def generate_hybrid_case(seed: int, diagnosis: str | None = None) -> PhantomCT:
    """The real pelvis, deformed, with one phantom sacral tumour; deterministic in seed."""
    base = real_pelvis()
    rng_clin, rng_def, rng_lesion = (np.random.default_rng([seed, k, 11]) for k in range(3))
    presentation = sample_presentation(rng_clin, diagnosis)
    spacing = base["spacing"]
    coords = _deformation(base["hu"].shape, spacing, rng_def)
    hu = ndimage.map_coordinates(base["hu"], coords, order=1, mode="nearest").astype(np.float32)
    labels = ndimage.map_coordinates(base["labels"], coords, order=0, mode="constant").astype(np.uint8)
    affine = base["affine"]
    centre = _pick_centre(labels, presentation, spacing, rng_lesion)
    radius = presentation["radius_mm"]
    parts = [
        {
            "centre": centre,
            "radius": radius,
            "axes": (1.0, rng_lesion.uniform(0.75, 1.1), rng_lesion.uniform(0.85, 1.3)),
            "rotation": np.linalg.qr(rng_lesion.standard_normal((3, 3)))[0].tolist(),
        }
    ]
    mass = presentation["look"]["anterior_mass"]
    if presentation["position"] == "foraminal" or mass > 0.15:
        front = (centre[0], centre[1] + radius * (0.5 + 0.5 * mass), centre[2])
        parts.append(
            {
                "centre": front,
                "radius": radius * (0.55 + 0.5 * mass),
                "axes": (1.0, 0.85, 1.1),
                "rotation": np.eye(3).tolist(),
            }
        )
    from inference_worker.phantoms.sacral_lesions import lesion_field

    geometry = {
        "parts": parts,
        "lobulation": presentation["look"]["lobulation"],
        "waves": (rng_lesion.normal(size=(5, 3)) * 2.5).tolist(),
        "phases": rng_lesion.uniform(0, 6.28, 5).tolist(),
    }
    axes = [affine[a, 3] + affine[a, a] * np.arange(hu.shape[a], dtype=np.float32) for a in range(3)]
    x, y, z = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    rho = lesion_field(
        np.broadcast_to(x, hu.shape), np.broadcast_to(y, hu.shape), np.broadcast_to(z, hu.shape), geometry
    )
    bone = labels > 0
    bone_sdf = ndimage.distance_transform_edt(~bone, sampling=spacing) - ndimage.distance_transform_edt(
        bone, sampling=spacing
    )
    bone_sdf = np.where(hu > 180, np.minimum(bone_sdf, -0.5), bone_sdf)
    tumour = paint_lesion(
        hu, bone_sdf.astype(np.float32), hu > -500, rho, (x, y, z), presentation["look"], radius, rng_lesion
    )
    labels[tumour] = LABELS["tumour"]
    out = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    return PhantomCT(
        hu=out,
        labels=labels,
        affine=affine.copy(),
        spacing=tuple(float(s) for s in spacing),
        diagnosis=presentation["diagnosis"],
        clinical={
            "age": presentation["age"],
            "sex": presentation["sex"],
            "tumour_volume_ml": round(float(tumour.sum() * voxel_ml), 2),
        },
        lesion={
            "centre_ras_mm": [round(float(v), 2) for v in centre],
            "radius_mm": radius,
            "level": presentation["level"],
            "zone": presentation["zone"],
            "side": presentation["side"],
            "position": presentation["position"],
            "soft_tissue_mass": len(parts) > 1,
            "look": presentation["look"],
        },
        profile="hybrid",
        scanner={
            "name": "hybrid",
            "manufacturer": "OsteoLens Phantom Works (hybrid on real CT)",
            "model": "TotalSegmentator test CT",
            "kernel": "UNKNOWN",
            "kvp": 120,
        },
        seed=seed,
        hybrid=True,
    )


def _pick_centre(labels, presentation, spacing, rng):
    """A sacral voxel matching the drawn level and side, in RAS mm."""
    base = real_pelvis()
    sac = np.argwhere(labels == LABELS["sacrum"])
    top = sac[:, 2].max()
    length = (top - sac[:, 2].min()) * spacing[2]
    lo, hi = LEVEL_SPANS[presentation["level"]]
    below = (top - sac[:, 2]) * spacing[2] / max(length, 1.0)
    lateral = (sac[:, 0] - base["mid_x"]) * spacing[0]  # + = patient right
    want = {
        "midline": (np.abs(lateral) < 8),
        "eccentric": (np.abs(lateral) > 10) & (np.abs(lateral) < 30),
        "foraminal": (np.abs(lateral) > 12) & (np.abs(lateral) < 26),
        "sacroiliac": (np.abs(lateral) > np.percentile(np.abs(lateral), 80)),
    }[presentation["position"]]
    if presentation["side"] == "left":
        want &= lateral < 0
    elif presentation["side"] == "right":
        want &= lateral > 0
    level = (below >= min(lo, 0.95)) & (below <= min(hi, 1.0))
    for candidates in (want & level, level, want, np.ones(len(sac), bool)):
        if candidates.any():
            pick = sac[candidates][rng.integers(candidates.sum())]
            break
    affine = base["affine"]
    return tuple(float(v) for v in (affine @ np.r_[pick, 1.0])[:3])
