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


def location_diagram(location: dict | None) -> dict | None:
    """Coordinates for a small coronal diagram of the hip-bone frame (radiological view:
    the patient's right on the viewer's left). Frame units: the hip-bone centroids sit
    at right = +/-0.5, so the picture scales with the patient, not the scanner."""
    if not location or "centroid" not in location:
        return None
    width, height, scale = 240, 200, 160.0
    cx, cy = width / 2, height / 2

    def to_svg(right: float, superior: float) -> tuple[float, float]:
        return round(cx - right * scale, 1), round(cy - superior * scale, 1)

    x, y = to_svg(location["centroid"][0], location["centroid"][2])
    box = None
    if location.get("bounds"):
        (r0, r1), _, (s0, s1) = location["bounds"]
        left, top = to_svg(max(r0, r1), max(s0, s1))
        right, bottom = to_svg(min(r0, r1), min(s0, s1))
        box = {"x": left, "y": top, "w": round(right - left, 1), "h": round(bottom - top, 1)}
    hips = [dict(zip(("x", "y"), to_svg(side, 0.0), strict=True)) for side in (0.5, -0.5)]
    return {
        "width": width,
        "height": height,
        "tumour": {"x": x, "y": y},
        "box": box,
        "hips": hips,
        "midline_x": cx,
        "side": location.get("side", ""),
        "centroid": location["centroid"],
        "axes": location.get("axes", ["right", "anterior", "superior"]),
        "volume_ml": location.get("volume_ml"),
    }


def result_viewer_config(request, analysis) -> dict | None:
    """The viewer bundle's config for the result page: the uploaded study with this
    request's overlays, opening on the series they belong to (None: no stored images)."""
    from viewer.selectors import viewer_config

    config = viewer_config(request, analysis.case, hidden=False, analysis=analysis)
    if not config["series"]:
        return None
    overlays = config.get("overlays") or {}
    owners = [overlays.get("labelmap"), *(overlays.get("heatmaps") or {}).values()]
    series_uid = next((o["series_uid"] for o in owners if o and o.get("series_uid")), None)
    if series_uid:
        config["initial_series_uid"] = series_uid
    focus = _focus_index(analysis)
    for entry in config["series"]:
        if focus is not None and entry["series_uid"] == series_uid and focus < len(entry["image_ids"]):
            entry["initial_index"] = focus
    return config


def _focus_index(analysis) -> int | None:
    """The stack index the overlays point at (opinions.overlays: most tumour), if any."""
    for spec in (analysis.opinion.result.get("artefacts") or {}).values():
        if (
            isinstance(spec, dict)
            and spec.get("kind") == "labelmap"
            and isinstance(spec.get("focus_index"), int)
        ):
            return spec["focus_index"]
    return None
