"""A realistic worker result, shaped by the result contract, for page tests."""

from __future__ import annotations


def sacral_result(request_id: str, *, out_of_domain: bool = False, embedding=None) -> dict:
    return {
        "request_id": request_id,
        "pipeline": "sacral-ct",
        "models": [
            {"name": "six_class", "version": "1", "sha256": "ab" * 32, "synthetic_training": True},
            {"name": "malignancy", "version": "1", "sha256": "cd" * 32, "synthetic_training": True},
        ],
        "out_of_domain": out_of_domain,
        "reasons": ["no hip bones were found"] if out_of_domain else [],
        "opinions": [
            {
                "model": "six_class",
                "kind": "six_class",
                "probabilities": {
                    "metastasis": 0.05,
                    "chondrosarcoma": 0.1,
                    "osteosarcoma": 0.05,
                    "chordoma": 0.7,
                    "neurogenic_tumour": 0.05,
                    "giant_cell_tumour": 0.05,
                },
                "top_class": "chordoma",
                "embedding": embedding or [1.0, 0.0, 0.0],
            },
            {
                "model": "malignancy",
                "kind": "malignancy",
                "probabilities": {"benign": 0.2, "malignant": 0.8},
                "top_class": "malignant",
            },
        ],
        "location": {
            "centroid": [0.01, -0.2, -0.35],
            "axes": ["right", "anterior", "superior"],
            "bounds": [[-0.1, 0.12], [-0.3, -0.1], [-0.5, -0.2]],
            "side": "midline",
            "volume_ml": 42.0,
        },
        "artefacts": {},
        "timings": {"total": 3.2},
        "warnings": [],
        "synthetic_training": True,
        "disclaimer": "Research use only; not for clinical use",
    }


SACRAL_ARTEFACTS = {"labels": "labels.nii.gz", "gradcam": "gradcam.nii.gz", "scorecam": "scorecam.nii.gz"}


def record_sacral_with_artefacts(analysis) -> None:
    """Record a sacral result naming the mask and both heat-maps a test wrote in the out dir."""
    from opinions import services

    result = sacral_result(str(analysis.public_id))
    result["artefacts"] = dict(SACRAL_ARTEFACTS)
    services.record_result(result)
    analysis.refresh_from_db()
