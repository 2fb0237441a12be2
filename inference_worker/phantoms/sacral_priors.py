"""Clinical and location priors for the six sacral tumour classes (SCIENCE.md table).

The sampler returns everything the renderer needs *except* pixels, so the priors can
be tested on thousands of draws in milliseconds. Ranges overlap on purpose: no class
is separable by age, sex, level, side or size alone, as in real series.
"""

from __future__ import annotations

import numpy as np

from inference_worker.vocabulary import SACRAL_CLASSES

# Sacral segments from the S1 endplate down, as fractions of the sacral length
# (S1 is the tallest segment). Coccyx beyond 1.0.
LEVEL_SPANS = {
    "S1": (0.00, 0.27),
    "S2": (0.27, 0.49),
    "S3": (0.49, 0.68),
    "S4": (0.68, 0.85),
    "S5": (0.85, 1.00),
    "Co": (1.04, 1.22),
}
UPPER_LEVELS = ("S1", "S2")
LOWER_LEVELS = ("S3", "S4", "S5", "Co")

# Per class: age model, P(male), P(upper sacrum), position weights
# (midline, eccentric, foraminal, sacroiliac), radius range in mm, look parameters.
CLASS_PRIORS: dict[str, dict] = {
    "chordoma": {
        "age": ("normal", 58, 11, 25, 88),
        "p_male": 0.67,
        "p_upper": 0.22,
        "position": {"midline": 0.8, "eccentric": 0.15, "foraminal": 0.05, "sacroiliac": 0.0},
        "radius": (20, 42),
    },
    "giant_cell_tumour": {
        "age": ("normal", 31, 8, 14, 65),
        "p_male": 0.38,
        "p_upper": 0.82,
        "position": {"midline": 0.15, "eccentric": 0.5, "foraminal": 0.05, "sacroiliac": 0.3},
        "radius": (18, 38),
    },
    "chondrosarcoma": {
        "age": ("normal", 50, 10, 22, 82),
        "p_male": 0.65,
        "p_upper": 0.7,
        "position": {"midline": 0.15, "eccentric": 0.3, "foraminal": 0.0, "sacroiliac": 0.55},
        "radius": (18, 40),
    },
    "osteosarcoma": {
        # Bimodal: adolescents/young adults, and older adults (Paget, post-radiation).
        "age": ("bimodal", (19, 6, 0.55), (63, 9)),
        "p_male": 0.6,
        "p_upper": 0.55,
        "position": {"midline": 0.35, "eccentric": 0.4, "foraminal": 0.05, "sacroiliac": 0.2},
        "radius": (18, 38),
    },
    "neurogenic_tumour": {
        "age": ("normal", 41, 10, 16, 78),
        "p_male": 0.5,
        "p_upper": 0.55,
        "position": {"midline": 0.25, "eccentric": 0.05, "foraminal": 0.7, "sacroiliac": 0.0},
        "radius": (12, 32),
    },
    "metastasis": {
        "age": ("normal", 64, 10, 38, 90),
        "p_male": 0.5,
        "p_upper": 0.75,
        "position": {"midline": 0.25, "eccentric": 0.4, "foraminal": 0.1, "sacroiliac": 0.25},
        "radius": (12, 32),
    },
}


def _age(rng: np.random.Generator, model) -> float:
    if model[0] == "normal":
        _, mean, sd, lo, hi = model
        return float(np.clip(rng.normal(mean, sd), lo, hi))
    (m1, s1, w1), (m2, s2) = model[1], model[2]
    if rng.random() < w1:
        return float(np.clip(rng.normal(m1, s1), 10, 35))
    return float(np.clip(rng.normal(m2, s2), 40, 88))


def sample_presentation(rng: np.random.Generator, diagnosis: str | None = None) -> dict:
    """Draw diagnosis (uniform if None), age, sex, level, position and size.

    ``side`` is the patient's side ("left"/"right") or "midline"; the renderer maps
    patient left to RAS -x.
    """
    if diagnosis is None:
        diagnosis = str(rng.choice(SACRAL_CLASSES))
    if diagnosis not in CLASS_PRIORS:
        raise ValueError(f"{diagnosis!r} is not a sacral class; use one of {', '.join(SACRAL_CLASSES)}")
    prior = CLASS_PRIORS[diagnosis]
    age = round(_age(rng, prior["age"]), 1)
    sex = "M" if rng.random() < prior["p_male"] else "F"
    positions = list(prior["position"])
    weights = np.array([prior["position"][p] for p in positions], dtype=float)
    position = str(rng.choice(positions, p=weights / weights.sum()))
    upper = rng.random() < prior["p_upper"]
    if position == "sacroiliac":
        # The sacroiliac joint spans S1-S3 only.
        level = str(rng.choice(["S1", "S2", "S3"], p=[0.45, 0.4, 0.15] if upper else [0.1, 0.3, 0.6]))
    elif position == "foraminal":
        level = str(rng.choice(["S1", "S2"])) if upper else str(rng.choice(["S3", "S4"]))
    elif upper:
        level = str(rng.choice(UPPER_LEVELS, p=[0.55, 0.45]))
    else:
        lower = ("S3", "S4", "S5", "Co") if diagnosis == "chordoma" else ("S3", "S4", "S5")
        p = [0.3, 0.3, 0.25, 0.15] if len(lower) == 4 else [0.45, 0.35, 0.2]
        level = str(rng.choice(lower, p=p))
    side = "midline" if position == "midline" else str(rng.choice(["left", "right"]))
    lo, hi = prior["radius"]
    radius = float(rng.uniform(lo, hi))
    if level in ("S5", "Co"):
        radius = min(radius, 30.0)  # the distal sacrum is small; bigger masses live anteriorly
    span = LEVEL_SPANS[level]
    return {
        "diagnosis": diagnosis,
        "age": age,
        "sex": sex,
        "level": level,
        "zone": "upper" if level in UPPER_LEVELS else "lower",
        "position": position,
        "side": side,
        "radius_mm": round(radius, 1),
        "level_fraction": float(rng.uniform(*span)),
        "look": sample_look(rng, diagnosis),
    }


def sample_look(rng: np.random.Generator, diagnosis: str) -> dict:
    """CT appearance: probabilities, not certainties, so looks overlap between classes."""
    r = rng.random
    look = {
        "soft_hu": float(rng.uniform(22, 50)),
        "lytic": 1.0,  # fraction of bone destroyed inside the lesion
        "expansile": False,
        "rim": 0.0,  # sclerotic rim strength (HU added)
        "shell": False,  # thin expanded cortical shell
        "ill_defined": False,
        "chondroid_rings": 0,
        "osteoid": 0.0,  # fraction of lesion with dense osteoid matrix
        "amorphous_calc": 0,
        "spiculation": False,
        "blastic": False,
        "anterior_mass": float(rng.uniform(0.0, 0.4)),  # extra anterior soft-tissue extent
        "lobulation": float(rng.uniform(0.08, 0.2)),
    }
    if diagnosis == "chordoma":
        look.update(
            soft_hu=float(rng.uniform(15, 40)),
            amorphous_calc=int(rng.integers(0, 14)) if r() < 0.7 else 0,
            anterior_mass=float(rng.uniform(0.4, 1.0)),
            lobulation=float(rng.uniform(0.12, 0.28)),
        )
    elif diagnosis == "giant_cell_tumour":
        look.update(
            soft_hu=float(rng.uniform(28, 52)),
            expansile=True,
            shell=r() < 0.75,
            rim=float(rng.uniform(0, 150)) if r() < 0.3 else 0.0,
            anterior_mass=float(rng.uniform(0.0, 0.5)),
        )
    elif diagnosis == "chondrosarcoma":
        look.update(
            soft_hu=float(rng.uniform(10, 35)),
            chondroid_rings=int(rng.integers(6, 30)) if r() < 0.85 else int(rng.integers(0, 4)),
            expansile=r() < 0.4,
            lobulation=float(rng.uniform(0.18, 0.32)),
        )
    elif diagnosis == "osteosarcoma":
        look.update(
            soft_hu=float(rng.uniform(35, 60)),
            osteoid=float(rng.uniform(0.25, 0.65)) if r() < 0.85 else float(rng.uniform(0.05, 0.15)),
            spiculation=r() < 0.6,
            lytic=float(rng.uniform(0.5, 1.0)),
            ill_defined=r() < 0.5,
        )
    elif diagnosis == "neurogenic_tumour":
        look.update(
            soft_hu=float(rng.uniform(18, 42)),
            expansile=True,
            shell=r() < 0.4,
            rim=float(rng.uniform(150, 450)) if r() < 0.8 else 0.0,
            lobulation=float(rng.uniform(0.04, 0.12)),
            anterior_mass=float(rng.uniform(0.1, 0.7)),
        )
    elif diagnosis == "metastasis":
        blastic = r() < 0.2
        look.update(
            soft_hu=float(rng.uniform(30, 55)),
            ill_defined=True,
            blastic=blastic,
            lytic=float(rng.uniform(0.6, 1.0)),
            rim=float(rng.uniform(0, 120)) if r() < 0.15 else 0.0,
            amorphous_calc=int(rng.integers(0, 5)) if r() < 0.2 else 0,
        )
    return look
