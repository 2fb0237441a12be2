"""Sacral tumour geometry and CT appearance.

A lesion is one or two lobulated ellipsoids ("parts": the intra-osseous tumour and,
when present, its anterior soft-tissue mass) placed in the sacral frame from the
presentation drawn by :mod:`sacral_priors`, then painted into the HU volume with the
class's look: lysis, expansion with a thin shell, sclerotic rim, permeative margin,
chondroid rings and arcs, osteoid clouds, amorphous calcification, spicules.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from inference_worker.phantoms.pelvis_anatomy import (
    FORAMEN_FRACTIONS,
    SACRAL_LENGTH,
    PelvisShape,
    sacral_arc,
    sacral_profile,
)

_FORAMEN_OF_LEVEL = {"S1": 0, "S2": 1, "S3": 2, "S4": 3}


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return q


def place_lesion(presentation: dict, shape: PelvisShape, scale: float, rng: np.random.Generator) -> dict:
    """Lesion parts in the canonical patient frame (mm), from the presentation."""
    arc = sacral_arc(shape)
    f = presentation["level_fraction"]
    position = presentation["position"]
    # Patient left is RAS -x.
    sign = {"left": -1.0, "right": 1.0, "midline": 0.0}[presentation["side"]]
    if position == "foraminal" and presentation["level"] in _FORAMEN_OF_LEVEL:
        f = FORAMEN_FRACTIONS[_FORAMEN_OF_LEVEL[presentation["level"]]]
    p = sacral_profile(f, shape)
    body_w, body_d = float(p["body_w"]), float(p["body_d"])
    ala_w, ala_d = float(p["ala_w"]), float(p["ala_d"])
    if position == "midline":
        x = rng.normal(0.0, 3.0)
        d = rng.uniform(-0.5, 0.5) * body_d
    elif position == "eccentric":
        x = sign * rng.uniform(12.0, max(16.0, 0.7 * ala_w))
        d = rng.uniform(-0.3, 0.5) * ala_d
    elif position == "foraminal":
        x = sign * (body_w + rng.uniform(0.0, 4.0))
        d = -0.3 * ala_d
    else:  # sacroiliac
        x = sign * (ala_w - rng.uniform(6.0, 16.0))
        d = rng.uniform(-0.2, 0.4) * ala_d
    s = f * SACRAL_LENGTH
    radius = presentation["radius_mm"] / scale
    cy, cz = arc.point(s, d)
    parts = [
        {
            "centre": (float(x), float(cy), float(cz)),
            "radius": radius,
            "axes": (1.0, float(rng.uniform(0.75, 1.1)), float(rng.uniform(0.85, 1.3))),
            "rotation": _rotation(rng).tolist(),
        }
    ]
    look = presentation["look"]
    mass = look["anterior_mass"]
    if position == "foraminal" or mass > 0.15:
        # Presacral extension: in front of the anterior cortex, nudged to the tumour's side.
        extent = body_d + radius * (0.35 + 0.45 * mass)
        my, mz = arc.point(s + rng.uniform(-5, 5), -extent)
        mr = radius * (0.55 + 0.5 * mass)
        parts.append(
            {
                "centre": (float(x * 0.8), float(my), float(mz)),
                "radius": float(mr),
                "axes": (1.0, float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.9, 1.3))),
                "rotation": _rotation(rng).tolist(),
            }
        )
    waves = rng.normal(size=(5, 3)) * rng.uniform(1.5, 3.5, size=(5, 1))
    return {
        "parts": parts,
        "lobulation": look["lobulation"],
        "waves": waves.tolist(),
        "phases": rng.uniform(0, 2 * np.pi, 5).tolist(),
        "s_mm": float(s),
        "x_mm": float(x),
        "d_mm": float(d),
    }


def lesion_field(x, y, z, geometry: dict):
    """Normalised radius: < 1 inside the tumour (min over its parts)."""
    rho = None
    main = geometry["parts"][0]
    c0 = np.asarray(main["centre"], dtype=np.float32)
    for part in geometry["parts"]:
        c = np.asarray(part["centre"], dtype=np.float32)
        rot = np.asarray(part["rotation"], dtype=np.float32)
        ax = np.asarray(part["axes"], dtype=np.float32) * part["radius"]
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        total = 0.0
        for k in range(3):
            u = rot[k, 0] * dx + rot[k, 1] * dy + rot[k, 2] * dz
            total = total + (u / ax[k]) ** 2
        r = np.sqrt(total)
        rho = r if rho is None else np.minimum(rho, r)
    # Lobulation: a few plane waves of position, so the surface bulges smoothly.
    wobble = 0.0
    scale = main["radius"]
    for w, ph in zip(geometry["waves"], geometry["phases"], strict=True):
        wobble = wobble + np.cos((w[0] * (x - c0[0]) + w[1] * (y - c0[1]) + w[2] * (z - c0[2])) / scale + ph)
    return rho * (1.0 + geometry["lobulation"] * wobble / np.sqrt(len(geometry["phases"])))


def _smooth_noise(rng, shape, sigma):
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return n / (n.std() + 1e-6)


def paint_lesion(hu, bone_sdf, body, rho, coords, look: dict, radius_mm: float, rng: np.random.Generator):
    """Paint the tumour into the HU box in place; return its mask (the label)."""
    x, y, z = coords
    bone = bone_sdf < 0
    mask = _largest_component((rho < 1.0) & body)
    # Keep the margin effects consistent with the kept tumour: rho elsewhere reads as "outside".
    rho = np.where(mask | (rho >= 1.0), rho, 1.5).astype(np.float32)
    tex = _smooth_noise(rng, hu.shape, 1.0)
    tex2 = _smooth_noise(rng, hu.shape, 1.5)
    soft = look["soft_hu"] + 7.0 * tex
    if look["blastic"]:
        dense = 420.0 + 260.0 * np.clip(tex2, -1, 2)
        hu[mask & bone] = dense[mask & bone]
        hu[mask & ~bone] = soft[mask & ~bone]
    else:
        keep = bone & (tex2 > np.quantile(tex2, min(0.999, look["lytic"] * 0.95 + 0.05)))
        replace = mask & ~keep
        hu[replace] = soft[replace]
    if look["ill_defined"]:
        band = (rho >= 1.0) & (rho < 1.3) & bone & (tex > 0.6)
        hu[band] = soft[band]
    thin = 2.2 / radius_mm
    if look["shell"]:
        shell = (rho >= 1.0) & (rho < 1.0 + thin) & (bone_sdf < 0.5 * radius_mm) & body & (tex < 1.1)
        hu[shell] = 520.0 + 200.0 * np.clip(tex2[shell], -1, 1)
    if look["rim"] > 0:
        rim = (rho >= 1.0) & (rho < 1.0 + 2.0 * thin) & bone
        hu[rim] += look["rim"]
    idx = np.argwhere(mask)
    if len(idx):
        _rings(hu, idx, coords, look["chondroid_rings"], rng)
        _fragments(hu, idx, coords, look["amorphous_calc"], rng, rho)
    if look["osteoid"] > 0 and mask.any():
        cloud = _smooth_noise(rng, hu.shape, 2.0)
        thr = np.quantile(cloud[mask], 1.0 - look["osteoid"])
        dense = mask & (cloud > thr)
        hu[dense] = 500.0 + 450.0 * np.clip(cloud[dense] - thr, 0, 1.2)
    if look["spiculation"]:
        c = np.argwhere(mask).mean(axis=0) if mask.any() else np.array(hu.shape) / 2
        cx, cy, cz = (np.interp(c[i], np.arange(hu.shape[i]), ax) for i, ax in enumerate(_axes(coords)))
        dx, dy, dz = x - cx, y - cy, z - cz
        norm = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-3
        k = rng.uniform(10, 16, 3)
        ph = rng.uniform(0, 2 * np.pi, 3)
        spikes = (
            np.sin(k[0] * dx / norm + ph[0])
            * np.sin(k[1] * dy / norm + ph[1])
            * np.sin(k[2] * dz / norm + ph[2])
        )
        band = (rho >= 1.0) & (rho < 1.35) & ~bone & body & (spikes > 0.45)
        hu[band] = np.maximum(hu[band], 380.0 - 600.0 * (rho[band] - 1.0))
    return mask


def _largest_component(mask):
    """Exactly one tumour: lobulation can pinch off satellites, which would be a second lesion."""
    lab, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())[1:]
    return lab == (1 + int(np.argmax(sizes)))


def _axes(coords):
    x, y, z = coords
    return x[:, 0, 0], y[0, :, 0], z[0, 0, :]


def _rings(hu, idx, coords, count, rng):
    """Chondroid matrix: calcified rings and arcs (2.5-5.5 mm, big enough to survive 2-3 mm voxels)."""
    xs, ys, zs = _axes(coords)
    for _ in range(count):
        i, j, k = idx[rng.integers(len(idx))]
        rr = rng.uniform(2.5, 5.5)
        normal = rng.standard_normal(3)
        sl = tuple(slice(max(0, a - 4), a + 5) for a in (i, j, k))
        dx = xs[sl[0]][:, None, None] - xs[i]
        dy = ys[sl[1]][None, :, None] - ys[j]
        dz = zs[sl[2]][None, None, :] - zs[k]
        dist = np.sqrt(dx * dx + dy * dy + dz * dz)
        arc = (dx * normal[0] + dy * normal[1] + dz * normal[2]) > -0.4 * rr * np.linalg.norm(normal)
        ring = (np.abs(dist - rr) < 1.1) & arc
        view = hu[sl]
        view[ring] = np.maximum(view[ring], rng.uniform(380, 900))


def _fragments(hu, idx, coords, count, rng, rho):
    """Amorphous calcification or residual bone fragments in the tumour's centre."""
    xs, ys, zs = _axes(coords)
    central = idx[rho[tuple(idx.T)] < 0.75]
    if len(central) == 0:
        return
    for _ in range(count):
        i, j, k = central[rng.integers(len(central))]
        r = rng.uniform(1.0, 3.0)
        sl = tuple(slice(max(0, a - 3), a + 4) for a in (i, j, k))
        dx = xs[sl[0]][:, None, None] - xs[i]
        dy = ys[sl[1]][None, :, None] - ys[j]
        dz = (zs[sl[2]][None, None, :] - zs[k]) * 0.8
        blob = np.sqrt(dx * dx + dy * dy + dz * dz) < r
        view = hu[sl]
        view[blob] = np.maximum(view[blob], rng.uniform(220, 600))
