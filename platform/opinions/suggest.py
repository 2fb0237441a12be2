"""Which question fits the uploaded images, from their modality and body part."""

from __future__ import annotations

from cases.models import Case, Series

_SPINE_WORDS = ("SPINE", "LSPINE", "TSPINE", "CSPINE", "VERTEBRA", "LUMBAR", "THORACIC")


def suggest_pipeline(case: Case) -> str:
    series = list(Series.objects.filter(study__case=case).values("modality", "body_part", "view_position"))
    modalities = {s["modality"] for s in series}
    body_parts = " ".join(s["body_part"].upper() for s in series)
    if "CT" in modalities or "MR" in modalities:
        return "sacral-ct"
    if any(word in body_parts for word in _SPINE_WORDS):
        return "spine-xray"
    views = {s["view_position"].upper() for s in series}
    if (
        len(series) >= 2
        and views & {"LL", "LAT", "RL"}
        and views & {"AP", "PA"}
        and "EXTREMITY" not in body_parts
    ):
        return "spine-xray"
    return "bone-xray"
