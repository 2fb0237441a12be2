"""Scanner models for the CT phantom: grid, sharpness, noise and HU calibration.

"default" is the home centre; "external" stands for another centre's scanner so
models can be tested for robustness to a domain shift (SCIENCE.md: external test
sets): coarser slices, wider field of view, sharper kernel with edge overshoot,
more noise and a small calibration offset.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

PROFILES: dict[str, dict] = {
    "default": {
        "matrix": 192,
        "slices": 60,
        "slice_spacing": 3.0,
        "fov_margin": 1.06,
        "noise_sd": (11.0, 22.0),
        "blur_xy": (0.55, 0.8),
        "blur_z": 0.45,
        "sharpen": 0.0,
        "offset": 0.0,
        "manufacturer": "OsteoLens Phantom Works",
        "model": "SynthCT Alpha",
        "kernel": "SOFT-B30",
        "kvp": 120,
    },
    "external": {
        "matrix": 176,
        "slices": 45,
        "slice_spacing": 4.0,
        "fov_margin": 1.2,
        "noise_sd": (20.0, 34.0),
        "blur_xy": (0.3, 0.45),
        "blur_z": 0.6,
        "sharpen": 0.35,
        "offset": 18.0,
        "manufacturer": "OsteoLens Phantom Works",
        "model": "SynthCT Beta",
        "kernel": "SHARP-B60",
        "kvp": 130,
    },
}


def profile(name: str) -> dict:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown scanner profile {name!r}; use one of {', '.join(PROFILES)}") from None


def sample_scanner(name: str, rng: np.random.Generator) -> dict:
    """Per-scan settings drawn within the profile's ranges."""
    p = profile(name)
    offset = 0.0
    if p["offset"]:
        offset = float(rng.uniform(5.0, p["offset"]) * rng.choice([-1.0, 1.0]))
    return {
        "name": name,
        "noise_sd": float(rng.uniform(*p["noise_sd"])),
        "blur_xy": float(rng.uniform(*p["blur_xy"])),
        "blur_z": p["blur_z"],
        "sharpen": p["sharpen"],
        "offset": offset,
    }


def acquire(hu: np.ndarray, scan: dict, rng: np.random.Generator) -> np.ndarray:
    """Blur (system resolution), add correlated noise and calibration offset -> int16."""
    out = ndimage.gaussian_filter(hu, (scan["blur_xy"], scan["blur_xy"], scan["blur_z"]))
    if scan["sharpen"]:
        # Sharp kernels overshoot at edges; an unsharp mask imitates that.
        out += scan["sharpen"] * (out - ndimage.gaussian_filter(out, (1.2, 1.2, 0.0)))
    noise = rng.standard_normal(hu.shape, dtype=np.float32)
    # CT noise is spatially correlated in-plane; a light blur then renormalising keeps the SD.
    noise = ndimage.gaussian_filter(noise, (0.6, 0.6, 0.0))
    noise *= scan["noise_sd"] / (float(noise.std()) + 1e-6)
    out += noise + scan["offset"]
    return np.clip(np.rint(out), -1024, 3071).astype(np.int16)
