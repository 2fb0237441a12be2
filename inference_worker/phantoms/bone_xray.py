"""Bone radiograph phantom: primary bone tumour vs bone infection (seed 003).

A long bone (femur, tibia, humerus, radius) with its joint partner, or an axial site
(lumbar spine, ilium), projected as line integrals through soft tissue, cortex and
marrow. One lesion whose look follows its subtype (lysis, sclerosis, matrix,
periosteal reaction, sequestrum, soft-tissue swelling), and clinical data drawn from
seed 003's Table 1, missingness included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inference_worker.phantoms import radiograph as rg

TUMOURS = {  # subtype -> relative frequency among primary bone tumours (approximate)
    "osteochondroma": 0.22,
    "giant_cell_tumour": 0.14,
    "osteosarcoma": 0.14,
    "non_ossifying_fibroma": 0.1,
    "enchondroma": 0.08,
    "aneurysmal_bone_cyst": 0.07,
    "simple_bone_cyst": 0.07,
    "chondrosarcoma": 0.06,
    "ewing_sarcoma": 0.06,
    "osteoid_osteoma": 0.06,
}
INFECTIONS = {"tuberculosis": 0.55, "osteomyelitis": 0.45}
# Typical age of each subtype (mean, sd); the mix gives about 25 +/- 18 years overall.
SUBTYPE_AGE = {
    "osteochondroma": (17, 8),
    "giant_cell_tumour": (32, 10),
    "osteosarcoma": (18, 10),
    "non_ossifying_fibroma": (13, 4),
    "enchondroma": (35, 14),
    "aneurysmal_bone_cyst": (15, 6),
    "simple_bone_cyst": (11, 4),
    "chondrosarcoma": (50, 13),
    "ewing_sarcoma": (15, 6),
    "osteoid_osteoma": (18, 7),
}
LONG_BONES = {  # shaft radius mm, flare factor, which end holds the metaphysis
    "distal femur": ("femur", 13.0, 2.6),
    "proximal tibia": ("tibia", 12.0, 2.4),
    "proximal humerus": ("humerus", 11.0, 2.1),
    "distal radius": ("radius", 7.5, 2.0),
}
AXIAL_SITES = ("lumbar spine", "ilium")

# Table 1 of seed 003: (yes, no, missing) shares for flags; (normal, abnormal, missing) for labs.
TABLE1 = {
    "tumour": {
        "male": 0.5877,
        "axial": 0.1358,
        "pain": (0.7094, 0.2906, 0.0),
        "swelling": (0.4454, 0.5480, 0.0066),
        "trauma": (0.1432, 0.7103, 0.1465),
        "crp": (0.5422, 0.3642, 0.0936),
        "esr": (0.2368, 0.6647, 0.0985),
        "alp": (0.0, 0.3874, 0.6126),
    },
    "infection": {
        "male": 0.6199,
        "axial": 0.5995,
        "pain": (0.6212, 0.0651, 0.3137),
        "swelling": (0.4082, 0.2781, 0.3137),
        "trauma": (0.0599, 0.6264, 0.3137),
        "crp": (0.2474, 0.4962, 0.2564),
        "esr": (0.0676, 0.6837, 0.2487),
        "alp": (0.0, 0.4987, 0.5013),
    },
}


@dataclass
class PhantomXray:
    pixels: np.ndarray  # uint16, MONOCHROME2
    mask: np.ndarray  # uint8 lesion mask
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (pixels, exclusive)
    pixel_spacing: tuple[float, float]
    diagnosis: str
    clinical: dict
    profile: str = "default"
    view: str = "AP"
    body_part: str = "EXTREMITY"
    laterality: str = ""
    findings: dict = field(default_factory=dict)


def pick_diagnosis(rng: np.random.Generator, group: str | None = None) -> str:
    """A subtype code for 'tumour' or 'infection' (either if None)."""
    if group is None:
        group = "tumour" if rng.random() < 0.606 else "infection"  # 1208 / 1992 in Table 1
    table = {"tumour": TUMOURS, "infection": INFECTIONS}[group]
    names = list(table)
    weights = np.array([table[k] for k in names])
    return str(rng.choice(names, p=weights / weights.sum()))


def _tri(rng, shares):
    """yes/no/missing draw -> True/False/None."""
    k = rng.choice(3, p=np.asarray(shares) / sum(shares))
    return (True, False, None)[k]


def sample_clinical(rng: np.random.Generator, diagnosis: str | None = None) -> dict:
    """Diagnosis, age, sex, site and the Table 1 variables (None = missing)."""
    if diagnosis is None:
        diagnosis = pick_diagnosis(rng)
    if diagnosis in TUMOURS:
        group = "tumour"
        mean, sd = SUBTYPE_AGE[diagnosis]
        age = float(np.clip(rng.normal(mean, sd), 3, 88))
        if rng.random() < 0.12:  # a long tail of older patients in every subtype
            age = float(rng.uniform(40, 80))
    elif diagnosis in INFECTIONS:
        group = "infection"
        age = float(np.clip(rng.normal(46, 19), 2, 88))
    else:
        raise ValueError(f"{diagnosis!r} is not a bone-xray diagnosis")
    t = TABLE1[group]
    axial = rng.random() < t["axial"]
    if diagnosis == "osteochondroma" or diagnosis == "non_ossifying_fibroma":
        axial = axial and rng.random() < 0.3  # these live in long bones
    site = str(rng.choice(AXIAL_SITES)) if axial else str(rng.choice(list(LONG_BONES)))
    clinical = {
        "age": round(age, 1),
        "sex": "M" if rng.random() < t["male"] else "F",
        "site": site,
        "site_group": "axial" if axial else "appendicular",
        "pain": _tri(rng, t["pain"]),
        "swelling": _tri(rng, t["swelling"]),
        "trauma": _tri(rng, t["trauma"]),
    }
    inflamed = group == "infection"
    lab = {}
    for name, normal, abnormal in (
        ("crp", (0.5, 8.0), (10.0, 180.0 if inflamed else 60.0)),
        ("esr", (2.0, 20.0), (21.0, 110.0 if inflamed else 70.0)),
        ("alp", (40.0, 129.0), (130.0, 700.0 if diagnosis == "osteosarcoma" else 320.0)),
    ):
        state = rng.choice(3, p=np.asarray(t[name]) / sum(t[name]))
        if state == 2:
            lab[name] = None
        else:
            lo, hi = normal if state == 0 else abnormal
            lab[name] = round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 1)
    clinical.update(lab)
    return {"diagnosis": diagnosis, "group": group, **clinical}


LOOKS = {
    # lysis (0-1), margin sclerosis, expansion, matrix, periosteal reaction, soft tissue
    "osteosarcoma": dict(
        lysis=0.5, sclerosis=0.8, margin=0.0, expand=0.0, matrix="osteoid", periosteal="sunburst", soft=0.8
    ),
    "ewing_sarcoma": dict(
        lysis=0.6, sclerosis=0.1, margin=0.0, expand=0.0, matrix=None, periosteal="onion", soft=0.9
    ),
    "chondrosarcoma": dict(
        lysis=0.7, sclerosis=0.1, margin=0.2, expand=0.2, matrix="chondroid", periosteal=None, soft=0.4
    ),
    "giant_cell_tumour": dict(
        lysis=0.9, sclerosis=0.0, margin=0.0, expand=0.4, matrix=None, periosteal=None, soft=0.2
    ),
    "aneurysmal_bone_cyst": dict(
        lysis=0.9, sclerosis=0.0, margin=0.5, expand=0.8, matrix=None, periosteal=None, soft=0.0
    ),
    "simple_bone_cyst": dict(
        lysis=0.8, sclerosis=0.0, margin=0.5, expand=0.2, matrix=None, periosteal=None, soft=0.0
    ),
    "non_ossifying_fibroma": dict(
        lysis=0.7, sclerosis=0.0, margin=1.0, expand=0.1, matrix=None, periosteal=None, soft=0.0
    ),
    "enchondroma": dict(
        lysis=0.6, sclerosis=0.0, margin=0.3, expand=0.1, matrix="chondroid", periosteal=None, soft=0.0
    ),
    "osteoid_osteoma": dict(
        lysis=0.9, sclerosis=1.0, margin=0.0, expand=0.0, matrix=None, periosteal="solid", soft=0.1
    ),
    "osteochondroma": dict(
        lysis=0.0, sclerosis=0.0, margin=0.0, expand=0.0, matrix=None, periosteal=None, soft=0.0
    ),
    "osteomyelitis": dict(
        lysis=0.7, sclerosis=0.6, margin=0.0, expand=0.0, matrix="sequestrum", periosteal="lamellar", soft=0.8
    ),
    "tuberculosis": dict(
        lysis=0.8, sclerosis=0.1, margin=0.0, expand=0.0, matrix=None, periosteal=None, soft=0.6
    ),
}


def generate_case(seed: int, diagnosis: str | None = None, profile: str = "default") -> PhantomXray:
    """One radiograph with one lesion; deterministic in (seed, diagnosis, profile)."""
    p = rg.profile(profile)
    rng_clin, rng_shape, rng_les, rng_img = (np.random.default_rng([seed, k, 2]) for k in range(4))
    info = sample_clinical(rng_clin, diagnosis)
    diagnosis = info.pop("diagnosis")
    info.pop("group")
    spacing = p["spacing"] * 0.8 + 0.1  # 0.5 mm default, 0.58 external
    rows, cols = 576, 448
    v = (np.arange(rows, dtype=np.float32) * spacing)[:, None]
    u = ((np.arange(cols, dtype=np.float32) - cols / 2) * spacing)[None, :]
    uu, vv = np.broadcast_arrays(u, v)
    uu = uu + rng_shape.uniform(-8, 8)
    look = dict(LOOKS[diagnosis])
    # Jitter every look so subtypes overlap, as they do on real films.
    for key in ("lysis", "sclerosis", "margin", "expand", "soft"):
        look[key] = float(np.clip(look[key] + rng_les.normal(0, 0.15), 0, 1))
    site = info["site"]
    if site == "lumbar spine":
        path, bone, lesion = _spine(uu, vv, rng_shape, rng_les, look, info["age"], diagnosis)
        body_part, view, lat = "LSPINE", "AP", ""
    elif site == "ilium":
        path, bone, lesion = _ilium(uu, vv, rng_shape, rng_les, look, diagnosis)
        body_part, view, lat = "PELVIS", "AP", ""
    else:
        path, bone, lesion = _long_bone(uu, vv, site, rng_shape, rng_les, look, info["age"], diagnosis)
        body_part, view = (
            {"femur": "LEG", "tibia": "LEG", "humerus": "ARM", "radius": "ARM"}[LONG_BONES[site][0]],
            "AP",
        )
        lat = str(rng_shape.choice(["L", "R"]))
    pixels = rg.expose(path, rng_img, profile)
    mask = lesion.astype(np.uint8)
    return PhantomXray(
        pixels=pixels,
        mask=mask,
        box=rg.box_of(lesion),
        pixel_spacing=(spacing, spacing),
        diagnosis=diagnosis,
        clinical=info,
        profile=profile,
        view=view,
        body_part=body_part,
        laterality=lat,
        findings=look,
    )


def _lesion_effects(path, bone_att, cortex, uu, vv, centre, axes, angle, look, rng, radius, diagnosis):
    """Apply one lesion to the attenuation map; return (path, lesion mask)."""
    e = rg.ellipse_mask(uu, vv, centre[0], centre[1], axes[0], axes[1], angle)
    wobble = rg.smooth_noise(rng, uu.shape, 6.0)
    inside = e * (1 + 0.12 * wobble) < 1.0
    tex = rg.smooth_noise(rng, uu.shape, 3.5)
    # Lysis: remove marrow and thin the cortex; permeative lesions leave islands.
    lyse = look["lysis"] * (0.7 + 0.3 * np.clip(tex, -1, 1))
    path = path - np.where(inside, bone_att * np.clip(lyse, 0, 0.95), 0.0)
    if look["margin"] > 0.05:
        rim = (e >= 1.0) & (e < 1.0 + 0.35 * look["margin"] + 0.1)
        path = path + np.where(rim, 10.0 * look["margin"], 0.0)
    if look["sclerosis"] > 0.05:
        halo = (e < 2.2) & ~inside
        path = path + np.where(halo & (bone_att > 0), 8.0 * look["sclerosis"] * np.clip(2.2 - e, 0, 1), 0.0)
    if look["expand"] > 0.05:
        shell = (e >= 1.0) & (e < 1.0 + 0.25) & (np.abs(uu - centre[0]) > radius * 0.6)
        path = path + np.where(shell, 8.0 * look["expand"], 0.0)
    matrix = look["matrix"]
    if matrix == "osteoid":
        cloud = rg.smooth_noise(rng, uu.shape, 4.0)
        path = path + np.where(inside & (cloud > 0.2), 25.0 * look["sclerosis"] * np.clip(cloud, 0, 2), 0.0)
    elif matrix == "chondroid":
        for _ in range(int(rng.integers(8, 25))):
            c = (centre[0] + rng.normal(0, axes[0] * 0.45), centre[1] + rng.normal(0, axes[1] * 0.45))
            r = rng.uniform(1.2, 3.0)
            d = np.sqrt((uu - c[0]) ** 2 + (vv - c[1]) ** 2)
            arc = (uu - c[0]) * rng.normal() + (vv - c[1]) * rng.normal() > -r * 0.5
            path = path + np.where((np.abs(d - r) < 0.6) & arc & inside, 22.0, 0.0)
    elif matrix == "sequestrum":
        if rng.random() < 0.7:
            seq = rg.ellipse_mask(
                uu,
                vv,
                centre[0] + rng.normal(0, 2),
                centre[1],
                axes[0] * 0.25,
                axes[1] * 0.4,
                rng.normal(0, 0.3),
            )
            path = path + np.where(seq < 1, 30.0, 0.0)
    per = look["periosteal"]
    outside_bone = (bone_att <= 0) & (np.abs(vv - centre[1]) < axes[1] * 1.3)
    near = outside_bone & (np.abs(np.abs(uu - centre[0]) - radius) < radius * 0.5 + 6)
    if per == "sunburst":
        ang = np.arctan2(vv - centre[1], uu - centre[0])
        spikes = np.cos(ang * rng.uniform(28, 40)) > 0.6
        path = path + np.where(near & spikes, 12.0, 0.0)
    elif per == "onion":
        dist = np.abs(np.abs(uu - centre[0]) - radius)
        path = path + np.where(near & (np.sin(dist * 2.2) > 0.5) & (dist < 7), 9.0, 0.0)
    elif per in ("solid", "lamellar"):
        dist = np.abs(np.abs(uu - centre[0]) - radius)
        path = path + np.where(near & (dist < 3.5), 10.0 if per == "solid" else 6.0, 0.0)
    if look["soft"] > 0.05:
        swell = rg.ellipse_mask(uu, vv, centre[0], centre[1], radius + 25 * look["soft"], axes[1] * 1.4)
        path = path + np.where(swell < 1, 12.0 * look["soft"] * np.sqrt(np.clip(1 - swell, 0, 1)), 0.0)
    return path, inside


def _long_bone(uu, vv, site, rng, rng_les, look, age, diagnosis):
    _, rs, flare = LONG_BONES[site]
    rs *= rng.uniform(0.9, 1.1)
    length = vv.max()
    # Joint at the bottom of the image for distal ends, top for proximal ones.
    proximal = site.startswith("proximal")
    t = (length - vv) if not proximal else vv  # distance from the joint end
    t = t - rng.uniform(25, 45)
    re = rs * flare
    meta = 2.8 * rs
    radius = np.where(t > meta, rs, rs + (re - rs) * np.clip(1 - t / meta, 0, 1) ** 2)
    end = np.clip(-t / (re * 0.6), 0, 1)
    radius = np.where(t < 0, re * np.sqrt(np.clip(1 - end**2, 0, 1)), radius)
    cort = np.where(t > meta, rs * 0.28, 1.4 + (rs * 0.28 - 1.4) * np.clip(t / meta, 0, 1))
    inner = np.clip(radius - cort, 0, None)
    soft_r = rs * rng.uniform(3.2, 4.2) + 10 * np.clip(t / 100.0, 0, 1)
    path = rg.chord(uu, soft_r) * rg.MU_SOFT
    outer_c = rg.chord(uu, radius)
    inner_c = rg.chord(uu, inner)
    bone_att = (outer_c - inner_c) * rg.MU_CORTEX + inner_c * rg.MU_MARROW
    if age < 17:  # open physis: a thin cartilage gap across the end
        physis = np.abs(t - 4.0) < 1.0
        bone_att = np.where(physis, bone_att * 0.5, bone_att)
    path = path + bone_att
    # Joint partner beyond a 4-6 mm gap.
    gap = rng.uniform(4, 6)
    tp = -t - re * 0.6 - gap
    pr = re * 0.95 * np.sqrt(np.clip(1 - np.clip((re * 0.5 - tp) / (re * 0.5), 0, 1) ** 2, 0, 1))
    pr = np.where(tp > 0, np.maximum(pr, rs * 0.9), 0.0)
    partner = rg.chord(uu, pr) * rg.MU_MARROW + rg.chord(uu, pr) * 0.5 * (rg.MU_CORTEX - rg.MU_MARROW) * 0.3
    path = path + partner
    cortex = outer_c - inner_c
    if diagnosis == "osteochondroma":
        return _osteochondroma(path, uu, vv, t, radius, rng_les, proximal)
    # Where along the bone: epiphysis for GCT, metaphysis for most, diaphysis for Ewing.
    where = {
        "giant_cell_tumour": (-5, 10),
        "ewing_sarcoma": (meta, meta + 80),
        "osteoid_osteoma": (meta, meta + 60),
    }
    lo, hi = where.get(diagnosis, (5, meta + 30))
    t_c = rng_les.uniform(lo, hi)
    v_index = np.argmin(np.abs(t[:, 0] - t_c))
    centre_v = float(vv[v_index, 0])
    local_r = float(radius[v_index, 0])
    offset = rng_les.normal(0, local_r * 0.25)
    if diagnosis in ("non_ossifying_fibroma", "giant_cell_tumour", "aneurysmal_bone_cyst"):
        offset = rng_les.choice([-1, 1]) * local_r * rng_les.uniform(0.3, 0.6)  # eccentric
    size = local_r * rng_les.uniform(0.45, 0.9)
    stretch = rng_les.uniform(1.2, 2.6)
    if diagnosis in ("osteosarcoma", "ewing_sarcoma", "chondrosarcoma", "osteomyelitis"):
        # Aggressive processes fill the medullary width and run further along the shaft.
        size = local_r * rng_les.uniform(0.7, 1.0)
        stretch = rng_les.uniform(1.8, 3.5)
    if diagnosis == "osteoid_osteoma":
        size = rng_les.uniform(3, 6)
    axes = (size, size * stretch)
    centre = (float(offset), centre_v)  # the bone axis is u = 0 in these coordinates
    return _finish(path, bone_att, cortex, uu, vv, centre, axes, look, rng_les, local_r, diagnosis)


def _finish(path, bone_att, cortex, uu, vv, centre, axes, look, rng, radius, diagnosis):
    path, lesion = _lesion_effects(
        path, bone_att, cortex, uu, vv, centre, axes, rng.normal(0, 0.1), look, rng, radius, diagnosis
    )
    return path, bone_att > 0, lesion & (bone_att > 0)


def _osteochondroma(path, uu, vv, t, radius, rng, proximal):
    """A bony stalk growing from the metaphysis away from the joint, cortex continuous."""
    side = rng.choice([-1, 1])
    t0 = rng.uniform(20, 45)
    v_index = np.argmin(np.abs(t[:, 0] - t0))
    base_u = side * float(radius[v_index, 0])
    base_v = float(vv[v_index, 0])
    length = rng.uniform(12, 30)
    direction = np.array([side * 0.8, (0.6 if not proximal else -0.6) * -1])
    direction = direction / np.linalg.norm(direction)
    tip = (base_u + direction[0] * length, base_v + direction[1] * length)
    du, dv = uu - base_u, vv - base_v
    along = np.clip((du * direction[0] + dv * direction[1]) / length, 0, 1)
    dist = np.sqrt((du - along * direction[0] * length) ** 2 + (dv - along * direction[1] * length) ** 2)
    width = rng.uniform(4, 8) * (1 + 0.6 * along)
    stalk = dist < width
    cap = rg.ellipse_mask(uu, vv, tip[0], tip[1], width.max() * 1.2, width.max())
    lesion = stalk | (cap < 1)
    path = path + np.where(lesion, 14.0 + 8.0 * (np.abs(dist - width) < 1.5), 0.0)
    return path, None, lesion


def _spine(uu, vv, rng, rng_les, look, age, diagnosis):
    """Lumbar AP: vertebral bodies; the lesion in one body (TB also narrows its disc)."""
    path = rg.chord(uu, rng.uniform(140, 180)) * rg.MU_SOFT
    height, width, disc = rng.uniform(24, 28), rng.uniform(42, 50), rng.uniform(7, 10)
    cv0 = vv.max() / 2 + rng.uniform(-10, 10)
    bone_att = np.zeros_like(uu)
    bodies = []
    for k in range(-3, 4):
        cv = cv0 + k * (height + disc)
        if diagnosis == "tuberculosis" and k == 1:
            cv -= disc * 0.6  # disc-space narrowing next to the infected body
        body = (np.abs(vv - cv) < height / 2) & (np.abs(uu) < width / 2)
        thick = rg.chord(np.clip(uu / (width / 2), -1, 1), 1.0) * width * 0.35
        frame = body & ((np.abs(uu) > width / 2 - 2) | (np.abs(np.abs(vv - cv) - height / 2) < 1.5))
        bone_att = bone_att + np.where(body, thick * np.where(frame, 2.2, rg.MU_MARROW), 0.0)
        for side in (-1, 1):
            ped = rg.ellipse_mask(uu, vv, side * (width / 2 - 7), cv - height * 0.18, 4.5, 7.0)
            bone_att = bone_att + (ped < 1) * 20.0
        bodies.append(cv)
    path = path + bone_att
    cv = bodies[3]
    centre = (rng_les.normal(0, 5), cv + rng_les.normal(0, 3))
    axes = (width * rng_les.uniform(0.2, 0.4), height * rng_les.uniform(0.3, 0.5))
    return _finish(path, bone_att, bone_att, uu, vv, centre, axes, look, rng_les, width / 2, diagnosis)


def _ilium(uu, vv, rng, rng_les, look, diagnosis):
    """AP hemipelvis: iliac wing plate, acetabular roof and femoral head."""
    path = rg.chord(uu, rng.uniform(150, 190)) * rg.MU_SOFT
    wing = rg.ellipse_mask(uu, vv, -10, vv.max() * 0.35, 85, 70)
    wing_plate = (wing < 1) & (vv < vv.max() * 0.55)
    bone_att = np.where(wing_plate, 12.0 + 18.0 * (wing > 0.85), 0.0)
    head_c = (20.0, vv.max() * 0.72)
    hd = np.sqrt((uu - head_c[0]) ** 2 + (vv - head_c[1]) ** 2)
    bone_att = bone_att + rg.chord(hd, 24.0) * rg.MU_MARROW * 0.8
    roof = (np.abs(hd - 28.0) < 5) & (vv < head_c[1])
    bone_att = bone_att + roof * 25.0
    body = rg.ellipse_mask(uu, vv, 5.0, vv.max() * 0.55, 40, 35) < 1
    bone_att = bone_att + body * 20.0
    path = path + bone_att
    centre = (rng_les.uniform(-60, 20), vv.max() * rng_les.uniform(0.25, 0.5))
    size = rng_les.uniform(10, 25)
    axes = (size, size * rng_les.uniform(0.8, 1.5))
    return _finish(path, bone_att, bone_att, uu, vv, centre, axes, look, rng_les, size, diagnosis)
