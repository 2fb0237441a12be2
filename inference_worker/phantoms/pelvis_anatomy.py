"""Shape model of the lower lumbar spine, sacrum, coccyx, hip bones and femora.

All shapes live in a canonical *patient* frame, millimetres, RAS-oriented:
+x toward the patient's right, +y anterior, +z superior; origin at the centre of the
S1 superior endplate. The generator maps this frame into scanner space with a
per-patient scale, rotation and table offset. Bones are signed-distance fields
(negative inside) so cortex thickness and joint gaps are read off one number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inference_worker.phantoms import shapes
from inference_worker.phantoms.sacral_priors import LEVEL_SPANS

# S1 endplate faces anterior-superior with a sacral slope of about 40 degrees; the
# sacrum then curves (concave anteriorly) down to the coccyx.
SACRAL_DIRECTION = (-0.64, -0.77)
LUMBAR_DIRECTION = (0.55, 0.83)
SACRAL_LENGTH = 100.0  # S1 endplate to the tip of S5, along the curve
FORAMEN_FRACTIONS = (0.17, 0.40, 0.60, 0.77)  # S1-S4 anterior foramina


@dataclass
class PelvisShape:
    """Per-patient shape parameters (canonical millimetres)."""

    sacral_radius: float = 140.0
    ala_width: float = 52.0
    femoral_head: float = 23.0
    hip_spread: float = 1.0  # lateral stretch of the hip bones (wider in women)
    body_a: float = 140.0
    body_b_ant: float = 120.0
    body_b_post: float = 88.0
    fat: float = 25.0
    bowel_seed: int = 0
    extras: dict = field(default_factory=dict)

    @classmethod
    def sample(cls, rng: np.random.Generator, sex: str, age: float) -> PelvisShape:
        female = sex == "F"
        fat = float(rng.uniform(10, 42)) + (6 if female else 0) + (5 if age > 50 else 0)
        return cls(
            sacral_radius=float(rng.uniform(120, 170)),
            ala_width=float(rng.uniform(48, 56)) + (2 if female else 0),
            femoral_head=float(rng.uniform(21, 24)) - (1.5 if female else 0),
            hip_spread=float(rng.uniform(0.96, 1.04)) + (0.04 if female else 0),
            body_a=float(rng.uniform(132, 150)),
            body_b_ant=float(rng.uniform(108, 132)),
            body_b_post=float(rng.uniform(80, 96)),
            fat=fat,
            bowel_seed=int(rng.integers(0, 2**31)),
        )


def sacral_arc(shape: PelvisShape) -> shapes.Arc:
    return shapes.Arc((0.0, 0.0), SACRAL_DIRECTION, shape.sacral_radius, bend=+1)


def lumbar_arc() -> shapes.Arc:
    # Lordosis: curves back toward the posterior going up.
    return shapes.Arc((0.0, 0.0), LUMBAR_DIRECTION, 180.0, bend=+1)


def sacral_profile(f, shape: PelvisShape) -> dict:
    """Cross-section sizes at fraction f (0 = S1 endplate, 1 = tip of S5)."""
    f = np.clip(f, 0.0, 1.0)
    return {
        "body_w": 24.0 - 12.0 * f,
        "body_d": 15.0 - 8.0 * f,
        "ala_w": np.interp(f, [0, 0.3, 0.6, 1.0], [shape.ala_width, shape.ala_width - 4, 30, 13]),
        "ala_d": np.interp(f, [0, 0.5, 1.0], [22.0, 16.0, 8.0]),
        "canal_w": 11.0 - 5.0 * f,
        "canal_d": 6.0 - 3.0 * f,
    }


def sacrum_sdf(x, y, z, shape: PelvisShape):
    """Sacrum and coccyx, with the canal and S1-S4 foramina hollowed out."""
    arc = sacral_arc(shape)
    s, d = arc.local(y, z)
    f = s / SACRAL_LENGTH
    p = sacral_profile(f, shape)
    canal_c = p["body_d"] + p["canal_d"] + 1.5
    body = shapes.ellipse2(x, d, p["body_w"], p["body_d"])
    ala = shapes.ellipse2(x, d - 3.0, p["ala_w"], p["ala_d"])
    arch = shapes.ellipse2(x, d - canal_c, p["canal_w"] + 6.0, p["canal_d"] + 7.0)
    # Sacral hiatus: the dorsal arch is open below S4.
    arch = np.maximum(arch, (f - 0.86) * SACRAL_LENGTH)
    bone = shapes.union(body, ala, arch)
    canal = shapes.ellipse2(x, d - canal_c, p["canal_w"], p["canal_d"])
    bone = shapes.subtract(bone, canal)
    for k, fk in enumerate(FORAMEN_FRACTIONS):
        pk = sacral_profile(fk, shape)
        sk = fk * SACRAL_LENGTH
        radius = 5.5 - 0.8 * k
        for side in (-1.0, 1.0):
            start = (side * (pk["canal_w"] - 3.0), sk, pk["body_d"] + 2.0)
            end = (side * (pk["body_w"] + 7.0), sk + 2.0, -pk["ala_d"] - 6.0)
            bone = shapes.subtract(bone, shapes.capsule(x, s, d, [start, end], [radius, radius]))
    bone = shapes.intersect(bone, -s, s - SACRAL_LENGTH)
    lo, hi = LEVEL_SPANS["Co"]
    segs = np.linspace(lo, hi, 4) * SACRAL_LENGTH
    for k in range(3):
        width = 10.0 - 2.2 * k
        seg = shapes.ellipse2(x, d, width, 6.0 - 1.0 * k)
        seg = shapes.intersect(seg, segs[k] + 0.8 - s, s - segs[k + 1] + 0.8)
        bone = np.minimum(bone, seg)
    return bone


def lumbar_sdf(x, y, z):
    """L5 and L4: bodies, pedicles, laminae, spinous and transverse processes."""
    arc = lumbar_arc()
    s, d = arc.local(y, z)
    post = -d  # this arc's offset is positive anteriorly
    out = None
    for lo, hi, wing in ((11.0, 38.0, 48.0), (49.0, 76.0, 38.0)):
        mid = 0.5 * (lo + hi)
        body = shapes.intersect(shapes.ellipse2(x, post, 25.0, 17.0), lo - s, s - hi)
        parts = [body]
        for side in (-1.0, 1.0):
            parts.append(
                shapes.capsule(x, s, post, [(side * 12, mid + 3, 12), (side * 13, mid + 3, 30)], [5.0, 5.0])
            )
            parts.append(
                shapes.capsule(x, s, post, [(side * 13, mid + 2, 30), (0.0, mid - 2, 42)], [4.5, 4.0])
            )
            parts.append(
                shapes.capsule(x, s, post, [(side * 13, mid + 3, 26), (side * wing, mid + 4, 22)], [5.0, 4.0])
            )
            # Facets reach down toward the next level.
            parts.append(
                shapes.capsule(x, s, post, [(side * 16, mid + 8, 32), (side * 17, lo - 6, 34)], [5.0, 4.0])
            )
        parts.append(shapes.capsule(x, s, post, [(0.0, mid, 40), (0.0, mid - 8, 62)], [5.0, 6.0]))
        vertebra = shapes.union(*parts)
        canal = shapes.ellipse2(x, post - 27.0, 11.0, 8.0)
        vertebra = shapes.subtract(vertebra, canal)
        out = vertebra if out is None else np.minimum(out, vertebra)
    return out


def lumbar_soft(x, y, z):
    """(disc field, lumbar canal field) so discs and the thecal sac get soft-tissue values."""
    arc = lumbar_arc()
    s, d = arc.local(y, z)
    post = -d
    cross = shapes.ellipse2(x, post, 24.0, 16.0)
    disc = np.minimum(
        shapes.intersect(cross, 0.5 - s, s - 11.5),
        shapes.intersect(cross, 37.5 - s, s - 49.5),
    )
    canal = shapes.intersect(shapes.ellipse2(x, post - 27.0, 11.0, 8.0), -s, s - 90.0)
    return disc, canal


def hip_sdf(x, y, z, shape: PelvisShape):
    """The patient's RIGHT hip bone (+x); call with -x for the left one."""
    x = x / shape.hip_spread
    cx, cy = 45.0, 45.0
    zs = [-72.0, -40.0, -20.0, 0.0, 36.0]
    a = np.interp(z, zs, [50.0, 56.0, 62.0, 68.0, 72.0]).astype(np.float32)
    b = np.interp(z, zs, [56.0, 62.0, 68.0, 74.0, 76.0]).astype(np.float32)
    theta = np.arctan2((y - cy) / b, (x - cx) / a)
    # Anterior end: crest front, ASIS (most anterior), the notch above AIIS, then the
    # ilium narrows onto the acetabular roof. Posterior end: SI joint above, greater
    # sciatic notch below it.
    theta_ant = np.interp(z, zs, [-0.7, -0.45, -0.25, 0.15, 0.0]).astype(np.float32)
    theta_post = np.interp(z, zs, [-1.25, -1.45, -1.85, -1.85, -1.85]).astype(np.float32)
    thick = np.interp(z, zs, [30.0, 22.0, 13.0, 8.0, 5.0]).astype(np.float32) + 8.0 * (theta < -1.3)
    wing = np.abs(shapes.ellipse2(x - cx, y - cy, a, b)) - 0.5 * thick
    crest = 36.0 - 6.0 * (theta + 1.6)
    wing = shapes.intersect(
        wing, (theta - theta_ant) * 50.0, (theta_post - theta) * 50.0, z - crest, -75.0 - z
    )
    head = np.array([88.0, 40.0, -95.0])
    rh = shape.femoral_head
    parts = [wing]
    parts.append(shapes.capsule(x, y, z, [(52, -22, -25), (70, 5, -65), (84, 28, -86)], [14.0, 16.0, 15.0]))
    parts.append(shapes.capsule(x, y, z, [(100, 45, -28), (92, 42, -72)], [9.0, 12.0]))
    rel = np.sqrt((x - head[0]) ** 2 + (y - head[1]) ** 2 + (z - head[2]) ** 2)
    cup = np.maximum(rel - (rh + 13.0), (rh + 2.0) - rel)
    n = np.array([1.0, 0.45, -0.75])
    n /= np.linalg.norm(n)
    facing = (x - head[0]) * n[0] + (y - head[1]) * n[1] + (z - head[2]) * n[2]
    parts.append(np.maximum(cup, facing - 0.3 * rh))
    parts.append(shapes.capsule(x, y, z, [(80, 55, -100), (45, 68, -110), (9, 72, -112)], [10.0, 8.0, 9.0]))
    parts.append(shapes.capsule(x, y, z, [(82, 18, -108), (70, 5, -135), (58, 10, -150)], [14.0, 14.0, 12.0]))
    parts.append(shapes.capsule(x, y, z, [(66, 0, -90), (46, -12, -96)], [6.0, 3.5]))
    parts.append(shapes.capsule(x, y, z, [(12, 65, -125), (50, 30, -150)], [7.0, 7.0]))
    bone = shapes.union(*parts)
    # Pubic symphysis: keep a cartilage gap at the midline.
    return np.maximum(bone, 2.5 - x)


def femur_sdf(x, y, z, shape: PelvisShape):
    """The patient's RIGHT femur (+x)."""
    x = x / shape.hip_spread
    head = (88.0, 40.0, -95.0)
    rh = shape.femoral_head
    ball = np.sqrt((x - head[0]) ** 2 + (y - head[1]) ** 2 + (z - head[2]) ** 2) - rh
    neck = shapes.capsule(x, y, z, [head, (120, 30, -120)], [15.0, 17.0])
    troch = shapes.ellipsoid(x, y, z, (128, 24, -114), (17, 22, 24))
    shaft = shapes.capsule(x, y, z, [(122, 28, -120), (116, 32, -260)], [15.0, 14.0])
    return shapes.union(ball, neck, troch, shaft)


def bone_fields(x, y, z, shape: PelvisShape) -> dict:
    """Signed-distance fields of every bone; SI joints carved out of the ilia."""
    sacrum = sacrum_sdf(x, y, z, shape)
    right = hip_sdf(x, y, z, shape)
    left = hip_sdf(-x, y, z, shape)
    # Sacroiliac joint: a 2.5 mm cartilage gap wherever ilium meets sacrum.
    joint = 2.5 - sacrum
    right = np.maximum(right, joint)
    left = np.maximum(left, joint)
    other = np.minimum(lumbar_sdf(x, y, z), np.minimum(femur_sdf(x, y, z, shape), femur_sdf(-x, y, z, shape)))
    other = np.maximum(other, 2.0 - sacrum)
    return {"sacrum": sacrum, "hip_left": left, "hip_right": right, "other": other}


def soft_tissue_hu(x, y, z, shape: PelvisShape, rng: np.random.Generator):
    """Soft-tissue HU (no bone) and the body mask field: skin, fat, muscle, viscera, gas."""
    yc = 25.0
    b = np.where(y > yc, shape.body_b_ant, shape.body_b_post).astype(np.float32)
    core = shapes.ellipse2(x, y - yc, shape.body_a, b)
    glute_z = np.clip((-z - 10.0) / 40.0, 0.0, 1.0)
    buttocks = shapes.ellipse2(np.abs(x) - 64.0, y + 25.0, 70.0, 62.0 + 12.0 * glute_z)
    buttocks = np.maximum(buttocks, z + 5.0 - 60.0 * (1 - glute_z))
    muscle = np.minimum(core, buttocks)
    body = muscle - shape.fat
    hu = np.full(x.shape, -1000.0, dtype=np.float32)
    hu[body < 0] = -100.0 + 8.0 * np.float32(rng.standard_normal())
    hu[(body < 0) & (body > -2.0)] = 25.0  # skin
    hu[muscle < 0] = 50.0
    # Fat plane between gluteus maximus and the deeper gluteal muscles, so the buttock
    # does not read as one block of muscle.
    plane = np.abs(shapes.ellipse2(np.abs(x) - 62.0, y + 12.0, 80.0, 58.0)) < 2.2
    hu[plane & (muscle < -6.0) & (y < 15.0) & (z < 5.0) & (np.abs(x) > 35.0)] = -85.0
    # Pelvic cavity: mesenteric fat with bowel loops, bladder low and anterior.
    cav_a = np.interp(z, [-110.0, -20.0, 60.0], [48.0, 72.0, 80.0]).astype(np.float32)
    cavity = shapes.ellipse2(x, y - 58.0, cav_a, 62.0)
    cavity = np.maximum(cavity, -125.0 - z)
    hu[cavity < 0] = -92.0
    bowel_rng = np.random.default_rng(shape.bowel_seed)
    for _ in range(22):
        c = (bowel_rng.uniform(-60, 60), bowel_rng.uniform(15, 110), bowel_rng.uniform(-90, 60))
        r = bowel_rng.uniform(9, 20)
        loop = shapes.ellipsoid(x, y, z, c, (r, r * bowel_rng.uniform(0.7, 1.2), r * 1.3))
        inside = (loop < 0) & (cavity < 0)
        hu[inside] = bowel_rng.uniform(20, 45)
        if bowel_rng.random() < 0.45:
            gas = shapes.ellipsoid(x, y, z, (c[0], c[1] + 0.3 * r, c[2]), (0.6 * r, 0.45 * r, 0.7 * r))
            hu[(gas < 0) & inside] = -950.0
    bladder = shapes.ellipsoid(x, y, z, (0.0, 72.0, -105.0), (42.0, 32.0, 28.0))
    hu[bladder < 0] = 10.0
    # Rectum in front of the lower sacrum, sometimes with gas.
    arc = sacral_arc(shape)
    ry, rz = arc.point(0.75 * SACRAL_LENGTH, -24.0)
    ry2, rz2 = arc.point(1.25 * SACRAL_LENGTH, -18.0)
    rectum = shapes.capsule(x, y, z, [(0.0, ry, rz), (0.0, ry2 + 4, rz2)], [13.0, 10.0])
    hu[rectum < 0] = 35.0
    if bowel_rng.random() < 0.6:
        hu[rectum < -6.0] = -900.0
    # Psoas, then iliacus along the inner wing: muscle within the cavity fat.
    for side in (-1.0, 1.0):
        psoas = shapes.capsule(
            x, y, z, [(side * 38, 8, 70), (side * 56, 28, -15), (side * 72, 48, -80)], [16.0, 17.0, 12.0]
        )
        hu[psoas < 0] = 52.0
    disc, canal = lumbar_soft(x, y, z)
    hu[disc < 0] = 80.0
    hu[canal < 0] = 8.0
    return hu, body
