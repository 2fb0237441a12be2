"""Turn a worker result into what the result page and the PDF report show."""

from __future__ import annotations

import math

from inference_worker import vocabulary as vocab

KIND_TITLES = {
    "six_class": "Tumour type",
    "malignancy": "Benign vs malignant (image)",
    "malignancy_with_reader": "Benign vs malignant (image + your reading)",
}


def class_label(name: str) -> str:
    diagnosis = vocab.DIAGNOSIS_BY_CODE.get(name)
    return diagnosis.label if diagnosis else name.replace("_", " ").capitalize()


def uncertainty(probabilities: dict[str, float]) -> dict:
    """Normalised entropy and the margin between the two most likely classes."""
    values = sorted((float(p) for p in probabilities.values()), reverse=True)
    k = len(values)
    entropy = -sum(p * math.log(p) for p in values if p > 0)
    normalised = entropy / math.log(k) if k > 1 else 0.0
    margin = values[0] - values[1] if k > 1 else 1.0
    level = (
        "low"
        if normalised < 0.4 and margin > 0.4
        else "high"
        if normalised > 0.75 or margin < 0.15
        else "moderate"
    )
    return {"entropy": round(normalised, 3), "margin": round(margin, 3), "level": level}


def opinion_rows(result: dict) -> list[dict]:
    rows = []
    for opinion in result.get("opinions", []):
        probabilities = opinion.get("probabilities") or {}
        if not probabilities:
            continue
        top = max(probabilities, key=probabilities.get)
        rows.append(
            {
                "model": opinion.get("model", ""),
                "kind": opinion.get("kind", ""),
                "title": KIND_TITLES.get(opinion.get("kind", ""), opinion.get("model", "Opinion")),
                "top_class": top,
                "top_label": class_label(top),
                "top_probability": probabilities[top],
                "uncertainty": uncertainty(probabilities),
                "bars": [
                    {
                        "name": name,
                        "label": class_label(name),
                        "p": float(p),
                        "percent": round(100 * float(p), 1),
                    }
                    for name, p in sorted(probabilities.items(), key=lambda item: -item[1])
                ],
            }
        )
    return rows
