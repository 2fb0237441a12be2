"""Sacral non-contrast CT phantom: one sacral tumour per case, with a label map.

Array convention (what the sacral pipeline relies on): ``hu[i, j, k]`` is the array
nibabel returns for a NIfTI image with affine ``affine``, and
``nibabel.aff2axcodes(affine) == ('R', 'A', 'S')``: i grows toward the patient's
Right, j toward Anterior, k toward Superior. RAS world x therefore grows toward the
patient's right, so the patient's LEFT hip bone (label 2) has the smaller x.

Labels: 0 background, 1 tumour, 2 left hip bone, 3 right hip bone, 4 sacrum
(including the coccyx). Lumbar vertebrae and femora are bone in ``hu`` but 0 in
``labels``, as in the seed papers' segmentation targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from inference_worker.phantoms import ct_scanner
from inference_worker.phantoms.pelvis_anatomy import PelvisShape, bone_fields, soft_tissue_hu
from inference_worker.phantoms.sacral_lesions import lesion_field, paint_lesion, place_lesion
from inference_worker.phantoms.sacral_priors import sample_presentation

LABELS = {"background": 0, "tumour": 1, "hip_left": 2, "hip_right": 3, "sacrum": 4}
TOP_OF_SCAN = 50.0  # canonical z (mm above the S1 endplate) of the top slice: lower L4


@dataclass
class PhantomCT:
    hu: np.ndarray  # int16 (X, Y, Z), RAS+ voxel order
    labels: np.ndarray  # uint8, same shape
    affine: np.ndarray  # 4x4 voxel index -> RAS mm
    spacing: tuple[float, float, float]
    diagnosis: str
    clinical: dict  # age, sex, tumour_volume_ml
    lesion: dict  # centre_ras_mm, radius_mm, level, zone, side, position, look
    profile: str = "default"
    scanner: dict = field(default_factory=dict)
    seed: int = 0
    hybrid: bool = False


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cz, sz = np.cos(yaw), np.sin(yaw)
    cx, sx = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(roll), np.sin(roll)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return rz @ rx @ ry


class Placement:
    """Patient pose in the scanner: world = scale * R @ canonical + t."""

    def __init__(self, scale: float, rotation: np.ndarray, translation: np.ndarray):
        self.scale = scale
        self.rotation = rotation
        self.translation = translation

    def to_canonical(self, x, y, z):
        """World (broadcastable arrays) -> canonical patient coordinates."""
        r = self.rotation.T / self.scale
        dx, dy, dz = x - self.translation[0], y - self.translation[1], z - self.translation[2]
        return tuple((r[k, 0] * dx + r[k, 1] * dy + r[k, 2] * dz).astype(np.float32) for k in range(3))

    def to_world(self, point) -> np.ndarray:
        return self.scale * self.rotation @ np.asarray(point, dtype=float) + self.translation


def _upsample(coarse: np.ndarray, shape) -> np.ndarray:
    """Linear interpolation, corners aligned (like ndimage.zoom with grid_mode=False).

    Done axis by axis with two gathers: several times faster than ndimage.zoom,
    which was the largest cost of a case.
    """
    out = coarse.astype(np.float32, copy=False)
    for axis, n in enumerate(shape):
        m = out.shape[axis]
        if m == n:
            continue
        pos = np.linspace(0.0, m - 1, n, dtype=np.float32)
        lo = np.minimum(pos.astype(np.int64), m - 2)
        w = (pos - lo).reshape([-1 if a == axis else 1 for a in range(out.ndim)])
        out = np.take(out, lo, axis=axis) * (1 - w) + np.take(out, lo + 1, axis=axis) * w
    return out


def generate_case(seed: int, diagnosis: str | None = None, profile: str = "default") -> PhantomCT:
    """One synthetic sacral NCCT with exactly one tumour; deterministic in (seed, diagnosis, profile)."""
    settings = ct_scanner.profile(profile)
    rng_clin, rng_anat, rng_lesion, rng_scan, rng_tex = (np.random.default_rng([seed, k]) for k in range(5))
    presentation = sample_presentation(rng_clin, diagnosis)
    shape = PelvisShape.sample(rng_anat, presentation["sex"], presentation["age"])
    scale = float(rng_anat.uniform(0.92, 1.06)) * (0.97 if presentation["sex"] == "F" else 1.0)
    angles = np.radians([rng_anat.uniform(-6, 6), rng_anat.uniform(-5, 5), rng_anat.uniform(-3, 3)])
    rotation = _rotation(*angles)
    scan = ct_scanner.sample_scanner(profile, rng_scan)

    n, nz, dz = settings["matrix"], settings["slices"], settings["slice_spacing"]
    half_width = (max(shape.body_a, 146.0) + shape.fat) * scale
    dxy = float(np.clip(2 * half_width * settings["fov_margin"] / n, 1.6, 2.8))
    dxy = round(dxy, 3)
    top = TOP_OF_SCAN + rng_anat.uniform(-6, 4)
    table = -400.0 + rng_anat.uniform(-30, 30)
    translation = np.array([rng_anat.normal(0, 8), -25.0 * scale + rng_anat.normal(0, 8), table])
    place = Placement(scale, rotation, translation)
    origin = np.array([-(n - 1) / 2 * dxy, -(n - 1) / 2 * dxy, table + scale * top - (nz - 1) * dz])
    affine = np.diag([dxy, dxy, dz, 1.0])
    affine[:3, 3] = origin
    shape_full = (n, n, nz)

    # Smooth fields are evaluated on a half-resolution in-plane grid and upsampled:
    # a fourfold saving, and distance fields interpolate almost exactly.
    nc = n // 2
    step = dxy * (n - 1) / (nc - 1)
    xw = (origin[0] + step * np.arange(nc, dtype=np.float32))[:, None, None]
    yw = (origin[1] + step * np.arange(nc, dtype=np.float32))[None, :, None]
    zw = (origin[2] + dz * np.arange(nz, dtype=np.float32))[None, None, :]
    xc, yc, zc = place.to_canonical(xw, yw, zw)
    fields = {k: _upsample(v, shape_full) for k, v in bone_fields(xc, yc, zc, shape).items()}
    soft, body = soft_tissue_hu(xc, yc, zc, shape, rng_anat)
    hu = _upsample(soft, shape_full)
    body = _upsample(body, shape_full) < 0

    _paint_bones(hu, fields, rng_tex, age=presentation["age"])

    # Lesion: evaluated at full resolution, in a box around it only.
    geometry = place_lesion(presentation, shape, scale, rng_lesion)
    box = _lesion_box(geometry, place, affine, shape_full)
    axes_world = [
        origin[a] + affine[a, a] * np.arange(box[a].start, box[a].stop, dtype=np.float32) for a in range(3)
    ]
    bx, by, bz = axes_world[0][:, None, None], axes_world[1][None, :, None], axes_world[2][None, None, :]
    rho = lesion_field(*place.to_canonical(bx, by, bz), geometry)
    bone_sdf = np.minimum.reduce([fields[k][box] for k in fields])
    hu_box = hu[box]
    tumour_box = paint_lesion(
        hu_box,
        bone_sdf,
        body[box],
        rho,
        (bx, by, bz),
        presentation["look"],
        presentation["radius_mm"],
        rng_lesion,
    )
    hu[box] = hu_box

    labels = np.zeros(shape_full, dtype=np.uint8)
    labels[fields["hip_left"] < 0] = LABELS["hip_left"]
    labels[fields["hip_right"] < 0] = LABELS["hip_right"]
    labels[fields["sacrum"] < 0] = LABELS["sacrum"]
    label_box = labels[box]
    label_box[tumour_box] = LABELS["tumour"]
    labels[box] = label_box

    image = ct_scanner.acquire(hu, scan, rng_scan)
    voxel_ml = dxy * dxy * dz / 1000.0
    tumour_ml = float((labels == LABELS["tumour"]).sum() * voxel_ml)
    centre_world = place.to_world(geometry["parts"][0]["centre"])
    lesion = {
        "centre_ras_mm": [round(float(v), 2) for v in centre_world],
        "radius_mm": presentation["radius_mm"],
        "level": presentation["level"],
        "zone": presentation["zone"],
        "side": presentation["side"],
        "position": presentation["position"],
        "soft_tissue_mass": len(geometry["parts"]) > 1,
        "look": presentation["look"],
    }
    clinical = {
        "age": presentation["age"],
        "sex": presentation["sex"],
        "tumour_volume_ml": round(tumour_ml, 2),
    }
    return PhantomCT(
        hu=image,
        labels=labels,
        affine=affine,
        spacing=(dxy, dxy, float(dz)),
        diagnosis=presentation["diagnosis"],
        clinical=clinical,
        lesion=lesion,
        profile=profile,
        scanner={**scan, **{k: settings[k] for k in ("manufacturer", "model", "kernel", "kvp")}},
        seed=seed,
    )


def _paint_bones(hu, fields, rng, age: float) -> None:
    """Cortex and trabecular marrow from each bone's distance field; osteopenia with age."""
    texture = ndimage.gaussian_filter(rng.standard_normal(hu.shape, dtype=np.float32), 0.8)
    texture /= float(texture.std()) + 1e-6
    loss = float(np.clip((age - 45.0) * 3.0, 0.0, 110.0))
    cortical = float(rng.uniform(900, 1350)) - loss
    cancellous = float(rng.uniform(240, 340)) - loss
    cortex_mm = float(rng.uniform(1.6, 2.6))
    for name in ("other", "hip_left", "hip_right", "sacrum"):
        d = fields[name]
        inside = d < 0
        marrow = cancellous + 55.0 * texture[inside]
        hu[inside] = np.where(d[inside] > -cortex_mm, cortical, marrow)


def _lesion_box(geometry, place, affine, shape):
    """Index slices covering every lesion part (1.6 radii, generous for lobulation)."""
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for part in geometry["parts"]:
        c = place.to_world(part["centre"])
        r = part["radius"] * place.scale * 1.6 * max(part["axes"])
        lo = np.minimum(lo, c - r)
        hi = np.maximum(hi, c + r)
    spacing = np.diag(affine)[:3]
    i0 = np.floor((lo - affine[:3, 3]) / spacing).astype(int)
    i1 = np.ceil((hi - affine[:3, 3]) / spacing).astype(int) + 1
    return tuple(
        slice(int(np.clip(a, 0, n - 1)), int(np.clip(b, 1, n))) for a, b, n in zip(i0, i1, shape, strict=True)
    )


def generate_hybrid_case(seed: int, diagnosis: str | None = None) -> PhantomCT:
    """Phantom tumour in the real pelvis CT; see :mod:`inference_worker.phantoms.hybrid_ct`."""
    from inference_worker.phantoms.hybrid_ct import generate_hybrid_case as hybrid

    return hybrid(seed, diagnosis)
