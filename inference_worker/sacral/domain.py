"""Is this CT something the sacral models can speak about?

The models were trained on non-contrast pelvic CT with one sacral tumour. Anything else
(an abdomen without a pelvis, a missing hip bone, a contrast study, an HU distribution
far from training) gets ``out_of_domain`` with reasons and no opinion, rather than a
confident answer about an image the model never learned.
"""

from __future__ import annotations

import numpy as np

from inference_worker.io.ct import CTVolume

MIN_CRANIOCAUDAL_MM = 100.0  # the sacrum alone is ~10 cm long
MIN_HIP_ML = 40.0  # an adult hip bone is a few hundred ml; a fragment is not one
MIN_SACRUM_ML = 20.0
MIN_TUMOUR_ML = 0.5
MIN_CONFIDENCE = 0.6
HU_Z_LIMIT = 4.0


def input_checks(ct: CTVolume, hu_reference: dict | None) -> list[str]:
    """Checks before any network runs."""
    reasons = []
    extent = ct.hu.shape[2] * ct.spacing[2]
    if extent < MIN_CRANIOCAUDAL_MM:
        reasons.append(
            f"the scan covers only {extent:.0f} mm cranio-caudally; a sacral CT needs at least "
            f"{MIN_CRANIOCAUDAL_MM:.0f} mm"
        )
    if ct.datasets:
        ds = ct.datasets[0]
        agent = str(ds.get("ContrastBolusAgent", "") or "").strip()
        if agent:
            reasons.append(
                f"contrast-enhanced CT (agent {agent!r}); the models were trained on non-contrast CT"
            )
        body_part = str(ds.get("BodyPartExamined", "") or "").upper()
        if body_part and not any(
            k in body_part for k in ("PELVIS", "SACRUM", "ABDOMEN", "HIP", "SPINE", "LSPINE")
        ):
            reasons.append(f"body part examined is {body_part}, not the pelvis")
    hu = ct.hu
    if hu.min() > -900 or hu.max() < 300:
        reasons.append(
            f"HU range {hu.min():.0f}..{hu.max():.0f} does not look like a calibrated CT (no air or no bone)"
        )
    if hu_reference:
        body = hu[hu > -300]
        if body.size:
            observed = np.percentile(body, [10, 50, 90])
            mean = np.asarray(hu_reference["p10_p50_p90_mean"])
            sd = np.maximum(np.asarray(hu_reference["p10_p50_p90_sd"]), 10.0)
            z = np.abs(observed - mean) / sd
            if z.max() > HU_Z_LIMIT:
                reasons.append(
                    "HU distribution inside the body (p10/p50/p90 "
                    + "/".join(f"{v:.0f}" for v in observed)
                    + ") is unlike the training scans ("
                    + "/".join(f"{v:.0f}" for v in mean)
                    + ")"
                )
    return reasons


def segmentation_checks(volumes: dict, confidence: float) -> list[str]:
    """Checks on what the segmenter found."""
    reasons = []
    for name, label, minimum in (
        ("left_hip", "left hip bone", MIN_HIP_ML),
        ("right_hip", "right hip bone", MIN_HIP_ML),
        ("sacrum", "sacrum", MIN_SACRUM_ML),
    ):
        if volumes[name]["volume_ml"] < minimum:
            reasons.append(f"no {label} found ({volumes[name]['volume_ml']:.0f} ml segmented)")
    if volumes["tumour"]["volume_ml"] < MIN_TUMOUR_ML:
        reasons.append("no sacral tumour found")
    if confidence < MIN_CONFIDENCE:
        reasons.append(f"segmentation confidence {confidence:.2f} is low")
    return reasons
