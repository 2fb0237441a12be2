"""The admin's demo page: training progress per pipeline, the cohorts, the model versions
with their validation figures."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.permissions import admin_required
from demo.training import training_status

# The card metric shown first, in this order of preference (the full card is in /admin/).
HEADLINE_METRICS = (
    ("validation", "auc_macro", "validation AUC (macro)"),
    ("validation_auc", None, "validation AUC"),
    ("cv_auc", None, "cross-validated AUC"),
    ("validation", "tumour", "validation Dice (tumour)"),
    ("validation_fine_grid", "tumour", "validation Dice (tumour)"),
)


def headline_metric(metrics: dict) -> tuple[str, float] | None:
    for key, inner, label in HEADLINE_METRICS:
        value = metrics.get(key)
        if inner is not None:
            value = value.get(inner) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            return label, round(float(value), 3)
    return None


@require_GET
@admin_required
def training_progress(request):
    from cohorts.models import Cohort
    from modelhub.models import ModelVersion

    versions = [
        {"version": mv, "headline": headline_metric(mv.metrics or {})}
        for mv in ModelVersion.objects.order_by("task", "name", "-created_at")
    ]
    rows = training_status()
    return render(
        request,
        "demo/training.html",
        {
            "rows": rows,
            "busy": any(r.state in ("queued", "running") for r in rows),
            "cohorts": Cohort.objects.order_by("name"),
            "versions": versions,
        },
    )
