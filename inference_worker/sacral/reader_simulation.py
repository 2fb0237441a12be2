"""Simulated reader interpretations for training the reader+model stacker.

No real readers exist for phantoms, so a reader is imitated from the phantom's ground
truth: each sign is read off the lesion's generated look and then misread with a set
probability; suspicion follows the true behaviour plus Gaussian noise. The stacker
learns how far to trust such a reader; the README/model card says the readers were
simulated, and real reader data should replace them.
"""

from __future__ import annotations

import numpy as np

SIGN_ERROR = 0.15  # chance of misreading each sign
SUSPICION_NOISE = 1.0  # SD on the 1-5 scale


def true_signs(lesion: dict) -> dict:
    look = lesion.get("look", {})
    return {
        "cortical_destruction": bool(look.get("lytic", 0) > 0.5 or look.get("ill_defined", False)),
        "soft_tissue_mass": bool(lesion.get("soft_tissue_mass", False)),
        "matrix_mineralisation": bool(
            look.get("chondroid_rings", 0) > 0
            or look.get("osteoid", 0) > 0.2
            or look.get("amorphous_calc", 0) > 0
        ),
        "sclerotic_rim": bool(look.get("rim", 0) > 0),
    }


def simulate_reader(lesion: dict, malignant: bool, rng: np.random.Generator) -> dict:
    signs = {k: bool(v) != bool(rng.random() < SIGN_ERROR) for k, v in true_signs(lesion).items()}
    centre = 3.8 if malignant else 2.2
    suspicion = int(np.clip(np.rint(centre + rng.normal(0, SUSPICION_NOISE)), 1, 5))
    return {"suspicion": suspicion, "signs": signs}
