"""Shared pieces of the projection radiograph phantoms.

Images are built as line integrals of attenuation (mm of soft-tissue equivalent)
and then mapped like a CR reader does: a log response, scatter blur, quantum noise,
12 bits stored, MONOCHROME2 (more attenuation = brighter = bone bright).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Relative linear attenuation at ~60-80 kVp (soft tissue = 1).
MU_SOFT = 1.0
MU_MARROW = 1.05  # fatty marrow: barely denser than muscle, so the canal reads darker than cortex
MU_CORTEX = 3.6

PROFILES = {
    "default": {"spacing": 0.5, "noise": (0.006, 0.012), "scatter": 0.12, "gamma": 1.0, "blur": 0.7},
    "external": {"spacing": 0.6, "noise": (0.012, 0.022), "scatter": 0.2, "gamma": 0.85, "blur": 1.1},
}


def profile(name: str) -> dict:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown radiograph profile {name!r}; use one of {', '.join(PROFILES)}") from None


def chord(u, radius):
    """Path length through a circle (or cylinder) of the given radius at offset u."""
    return 2.0 * np.sqrt(np.clip(radius * radius - u * u, 0.0, None))


def ellipse_mask(u, v, cu, cv, au, av, angle=0.0):
    ca, sa = np.cos(angle), np.sin(angle)
    du, dv = u - cu, v - cv
    a = (ca * du + sa * dv) / au
    b = (-sa * du + ca * dv) / av
    return a * a + b * b


def smooth_noise(rng, shape, sigma):
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return n / (n.std() + 1e-6)


def expose(path_mm: np.ndarray, rng: np.random.Generator, profile_name: str) -> np.ndarray:
    """Attenuation map (mm soft-tissue equivalent) -> uint16 MONOCHROME2 pixels, 12 bits."""
    p = profile(profile_name)
    att = ndimage.gaussian_filter(path_mm.astype(np.float32), p["blur"])
    transmitted = np.exp(-0.018 * att)
    # Scatter: a broad veil that lowers contrast, stronger behind thick parts.
    transmitted = transmitted + p["scatter"] * ndimage.gaussian_filter(transmitted, 25) * 0.5
    sd = rng.uniform(*p["noise"])
    transmitted = transmitted * (
        1.0 + sd * rng.standard_normal(transmitted.shape) / np.sqrt(transmitted + 0.05)
    )
    signal = -np.log(np.clip(transmitted, 1e-4, None))
    lo, hi = np.quantile(signal, [0.002, 0.998])
    norm = np.clip((signal - lo) / (hi - lo + 1e-6), 0, 1) ** p["gamma"]
    return np.rint(200 + norm * 3700).astype(np.uint16)


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in pixels, x = column; exclusive upper bounds."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return (0, 0, 1, 1)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
