"""Spine radiograph phantom: AP and lateral views, one abnormal vertebra.

Metastasis: lytic, ill-defined body, often a destroyed pedicle (the "winking owl" on
AP), posterior border bulging backward on the lateral view, variable collapse.
Osteoporotic fracture: wedge or biconcave collapse, band-like sclerosis under the
impacted endplate, pedicles intact, posterior border straight. Elderly patients get
osteopenic background (thin trabeculae, prominent cortical frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inference_worker.phantoms import radiograph as rg

LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L4")
DIAGNOSES = ("metastasis", "osteoporotic_fracture")


@dataclass
class PhantomSpine:
    ap: np.ndarray
    lateral: np.ndarray
    masks: dict
    boxes: dict
    diagnosis: str
    clinical: dict
    level: str
    pixel_spacing: tuple[float, float]
    profile: str = "default"
    findings: dict = field(default_factory=dict)


def sample_clinical(rng: np.random.Generator, diagnosis: str | None = None) -> dict:
    if diagnosis is None:
        diagnosis = str(rng.choice(DIAGNOSES))
    if diagnosis not in DIAGNOSES:
        raise ValueError(f"{diagnosis!r} is not a spine class; use one of {', '.join(DIAGNOSES)}")
    if diagnosis == "metastasis":
        age = float(np.clip(rng.normal(63, 11), 35, 92))
        sex = "M" if rng.random() < 0.55 else "F"
        level = str(rng.choice(LEVELS, p=[0.1, 0.12, 0.16, 0.17, 0.16, 0.15, 0.14]))
    else:
        age = float(np.clip(rng.normal(73, 9), 50, 97))
        sex = "F" if rng.random() < 0.72 else "M"
        level = str(rng.choice(LEVELS, p=[0.08, 0.16, 0.24, 0.24, 0.13, 0.09, 0.06]))
    return {"diagnosis": diagnosis, "age": round(age, 1), "sex": sex, "level": level}


def sample_findings(rng: np.random.Generator, diagnosis: str) -> dict:
    if diagnosis == "metastasis":
        return {
            "collapse": float(rng.uniform(0.0, 0.4)) if rng.random() < 0.6 else 0.0,
            "shape": "uniform",
            "lysis": float(rng.uniform(0.35, 0.8)),
            "winking_pedicle": bool(rng.random() < 0.7),
            "posterior_bulge": float(rng.uniform(2.0, 6.0)) if rng.random() < 0.7 else 0.0,
            "sclerotic_band": 0.0,
            "blastic": bool(rng.random() < 0.12),
        }
    shape = "wedge" if rng.random() < 0.6 else "biconcave"
    return {
        "collapse": float(rng.uniform(0.15, 0.5)),
        "shape": shape,
        "lysis": 0.0,
        "winking_pedicle": False,
        "posterior_bulge": 0.0,
        "sclerotic_band": float(rng.uniform(0.3, 0.8)) if rng.random() < 0.75 else 0.0,
        "blastic": False,
    }


def _render(view, u, v, vertebrae, density, rng, findings, abnormal, soft_width):
    """Attenuation map of one view and the abnormal body's mask."""
    path = rg.chord(u, soft_width) * rg.MU_SOFT + 0.0 * v
    mask = np.zeros(u.shape[:1] + v.shape[1:], dtype=bool) if u.ndim == 2 else None
    uu, vv = np.broadcast_arrays(u, v)
    mask = np.zeros(uu.shape, dtype=bool)
    for k, vert in enumerate(vertebrae):
        cv, h, w, depth = vert["cv"], vert["h"], vert["w"], vert["depth"]
        top = cv - h / 2
        height = np.ones_like(uu)
        half = w / 2 if view == "ap" else depth / 2
        across = depth / 2 if view == "ap" else w / 2
        x = uu if view == "ap" else uu - 0.0
        if k == abnormal:
            col = findings["collapse"]
            if findings["shape"] == "wedge" and view == "lateral":
                # Anterior (negative u on lateral) loses most height.
                frac = np.clip(0.5 - x / (2 * half), 0, 1)
                height = 1.0 - col * frac
            elif findings["shape"] == "biconcave":
                height = 1.0 - col * np.clip(1 - (x / half) ** 2, 0, 1)
            else:
                height = np.full_like(uu, 1.0 - col)
        local_top = cv - h / 2 * height
        local_bot = cv + h / 2 * height
        inside_v = (vv >= local_top) & (vv <= local_bot)
        extra = 0.0
        if k == abnormal and view == "lateral" and findings["posterior_bulge"]:
            extra = findings["posterior_bulge"] * np.clip(1 - ((vv - cv) / (h / 2)) ** 2, 0, 1) * (x > 0)
        inside_u = np.abs(x) <= half + extra
        body = inside_v & inside_u
        thickness = rg.chord(np.clip(np.abs(x) / (half + extra + 1e-6), 0, 1), 1.0) * across
        frame = body & ((np.abs(x) > half + extra - 2.0) | (vv - local_top < 1.8) | (local_bot - vv < 1.8))
        marrow = rg.MU_MARROW * density * (1.0 + 0.15 * vert["texture"])
        att = thickness * np.where(frame, rg.MU_CORTEX * 0.55, marrow)
        if k == abnormal:
            mask |= body
            if findings["lysis"]:
                holes = vert["holes"] > (1.2 - 1.8 * findings["lysis"])
                att = np.where(body & holes, att * 0.35, att)
                att = np.where(frame & (vert["holes"] > 0.6), att * 0.5, att)
            if findings["blastic"]:
                att = np.where(body & (vert["holes"] > 0.3), att * 1.8, att)
            if findings["sclerotic_band"]:
                band = body & (vv - local_top < 6.0)
                att = np.where(band, att * (1 + findings["sclerotic_band"]), att)
        path = path + np.where(body, att, 0.0)
        # Posterior elements.
        ped_v = top + 0.32 * h
        if view == "ap":
            for side in (-1, 1):
                ring = rg.ellipse_mask(uu, vv, side * (w / 2 - 7), ped_v, 4.5, 7.0)
                # Pedicles are seen end-on: an oval cortical ring, the owl's "eye".
                ped = ((ring < 1.0) & (ring > 0.45)) * 22.0 + (ring <= 0.45) * 8.0
                if k == abnormal and findings["winking_pedicle"] and side == vert["wink_side"]:
                    ped = ped * 0.15
                path = path + ped
                tp = rg.ellipse_mask(uu, vv, side * (w / 2 + 10), ped_v + 2, 14.0, 4.0)
                path = path + (tp < 1) * 10.0
            spin = rg.ellipse_mask(uu, vv, 0.0, cv + 4, 3.5, 9.0)
            path = path + (spin < 1) * 14.0 * np.clip(1.2 - spin, 0, 1)
        else:
            ped = rg.ellipse_mask(uu, vv, half + 9, ped_v, 9.0, 5.0)
            pedicle = (ped < 1) * 14.0
            if k == abnormal and findings["winking_pedicle"]:
                pedicle = pedicle * 0.6
            path = path + pedicle
            arch = rg.ellipse_mask(uu, vv, half + 24, cv + 2, 9.0, 11.0)
            path = path + (arch < 1) * 16.0
            spin = rg.ellipse_mask(uu, vv, half + 42, cv + 6, 13.0, 5.0, angle=0.35)
            path = path + (spin < 1) * 12.0
    return path, mask


def generate_case(seed: int, diagnosis: str | None = None, profile: str = "default") -> PhantomSpine:
    """AP and lateral view of five vertebrae centred on the abnormal one."""
    p = rg.profile(profile)
    rng_clin, rng_shape, rng_img = (np.random.default_rng([seed, k, 3]) for k in range(3))
    clinical = sample_clinical(rng_clin, diagnosis)
    diagnosis = clinical.pop("diagnosis")
    level = clinical.pop("level")
    findings = sample_findings(rng_clin, diagnosis)
    spacing = p["spacing"] * 0.5 + 0.1  # about 0.35-0.4 mm
    rows, cols = 640, 512
    v = (np.arange(rows, dtype=np.float32) * spacing)[:, None]
    u = ((np.arange(cols, dtype=np.float32) - cols / 2) * spacing)[None, :]
    lumbar = level.startswith("L")
    base_h = rng_shape.uniform(24, 29) if lumbar else rng_shape.uniform(20, 24)
    base_w = rng_shape.uniform(42, 52) if lumbar else rng_shape.uniform(34, 42)
    disc = rng_shape.uniform(7, 11) if lumbar else rng_shape.uniform(5, 7)
    if clinical["age"] > 65:
        disc *= 0.75
    density = float(
        np.clip(
            1.15 - 0.011 * max(clinical["age"] - 40, 0) - (0.12 if clinical["sex"] == "F" else 0), 0.35, 1.2
        )
    )
    pitch = base_h + disc
    centre_v = rows * spacing / 2 + rng_shape.uniform(-10, 10)
    abnormal = 2
    vertebrae = []
    for k in range(5):
        grow = 1 + 0.03 * (k - 2)
        vertebrae.append(
            {
                "cv": centre_v + (k - 2) * pitch,
                "h": base_h * grow,
                "w": base_w * grow,
                "depth": base_w * 0.72 * grow,
                "texture": rg.smooth_noise(rng_shape, (rows, cols), 2.0),
                "holes": rg.smooth_noise(rng_shape, (rows, cols), 3.0),
                "wink_side": int(rng_shape.choice([-1, 1])),
            }
        )
    soft_ap = rng_shape.uniform(140, 190)
    soft_lat = rng_shape.uniform(110, 160)
    tilt = rng_shape.uniform(-4, 4)
    views, masks, boxes = {}, {}, {}
    for view, shift, soft in (("ap", 0.0, soft_ap), ("lateral", -rng_shape.uniform(5, 15), soft_lat)):
        uu = u - shift - tilt * (v - centre_v) / 100.0
        path, mask = _render(view, uu, v, vertebrae, density, rng_img, findings, abnormal, soft)
        views[view] = rg.expose(path, rng_img, profile)
        masks[view] = mask.astype(np.uint8)
        boxes[view] = rg.box_of(mask)
    return PhantomSpine(
        ap=views["ap"],
        lateral=views["lateral"],
        masks=masks,
        boxes=boxes,
        diagnosis=diagnosis,
        clinical={**clinical, "site": f"spine {level}", "site_group": "axial"},
        level=level,
        pixel_spacing=(spacing, spacing),
        profile=profile,
        findings=findings,
    )
