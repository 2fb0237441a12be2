"""Most similar pathology-proven library cases, by the classifier's embedding."""

from __future__ import annotations

import numpy as np

from opinions.models import ModelOpinion


def embedding_of(result: dict) -> list[float] | None:
    for opinion in result.get("opinions", []):
        if opinion.get("embedding"):
            return opinion["embedding"]
    return None


def similar_cases(
    result: dict, *, pipeline: str, exclude_case_id: int | None = None, k: int = 5
) -> list[dict]:
    query = embedding_of(result)
    if query is None:
        return []
    candidates = (
        ModelOpinion.objects.filter(
            request__pipeline=pipeline,
            request__case__in_library=True,
            request__case__histopathology__isnull=False,
        )
        .exclude(request__case_id=exclude_case_id)
        .select_related("request__case__histopathology")
        .order_by("-created_at")
    )
    seen, rows, vectors = set(), [], []
    for opinion in candidates.iterator():
        case = opinion.request.case
        vector = embedding_of(opinion.result)
        if case.pk in seen or vector is None or len(vector) != len(query):
            continue
        seen.add(case.pk)
        rows.append(case)
        vectors.append(vector)
    if not rows:
        return []
    matrix = np.asarray(vectors, dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)
    sims = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q) + 1e-8)
    order = np.argsort(-sims)[:k]
    return [
        {"case": rows[i], "similarity": float(sims[i]), "diagnosis": rows[i].histopathology} for i in order
    ]
