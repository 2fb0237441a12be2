"""Which question fits the uploaded images, from their modality and body part."""

from __future__ import annotations

from cases.models import Case, Series

_LATERAL = {"LL", "RL", "LAT", "LATERAL"}
_SPINE_WORDS = ("SPINE", "LSPINE", "TSPINE", "CSPINE", "VERTEBRA", "LUMBAR", "THORACIC")


def suggest_pipeline(case: Case) -> str:
    """CT -> sacral CT; a spine radiograph with a lateral view -> metastasis vs fracture
    (fractures are judged on the lateral view); any other radiograph, a single AP of the
    spine included, -> bone tumour vs infection. Only a suggestion: the doctor may change it."""
    series = list(Series.objects.filter(study__case=case).values("modality", "body_part", "view_position"))
    modalities = {s["modality"] for s in series}
    if "CT" in modalities or "MR" in modalities:
        return "sacral-ct"
    spine_views = {
        s["view_position"].upper()
        for s in series
        if any(word in s["body_part"].upper() for word in _SPINE_WORDS)
    }
    if spine_views & _LATERAL:
        return "spine-xray"
    return "bone-xray"
