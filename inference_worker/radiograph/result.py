"""The analysis result every pipeline returns (same contract as the sacral pipeline)."""

from __future__ import annotations

DISCLAIMER = "Research use only; not for clinical use"


def opinion(model: str, kind: str, classes: tuple[str, str], p_positive: float, embedding=None) -> dict:
    p = float(p_positive)
    probabilities = {classes[0]: round(1 - p, 5), classes[1]: round(p, 5)}
    return {
        "model": model,
        "kind": kind,
        "probabilities": probabilities,
        "top_class": classes[1] if p >= 0.5 else classes[0],
        "embedding": [round(float(v), 5) for v in (embedding if embedding is not None else [])],
    }


def result(
    *,
    pipeline: str,
    models: list[dict],
    out_of_domain: bool,
    reasons: list[str],
    opinions: list[dict],
    location,
    artefacts: dict,
    timings: dict,
    warnings: list[str],
    extra: dict | None = None,
) -> dict:
    return {
        "pipeline": pipeline,
        "models": models,
        "out_of_domain": bool(out_of_domain),
        "reasons": reasons,
        "opinions": opinions,
        "location": location,
        "artefacts": artefacts,
        "timings": {k: round(float(v), 3) for k, v in timings.items()},
        "warnings": warnings,
        "synthetic_training": any(m.get("synthetic_training") for m in models),
        "disclaimer": DISCLAIMER,
        **(extra or {}),
    }


def out_of_domain_result(
    *,
    pipeline: str,
    models: list[dict],
    reasons: list[str],
    timings: dict,
    warnings: list[str],
    extra: dict,
    started: float,
) -> dict:
    """The result of a study the models must not judge: reasons, no opinions."""
    import time

    timings["total"] = time.perf_counter() - started
    return result(
        pipeline=pipeline,
        models=models,
        out_of_domain=True,
        reasons=reasons,
        opinions=[],
        location=None,
        artefacts={},
        timings=timings,
        warnings=warnings,
        extra=extra,
    )
