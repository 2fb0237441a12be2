"""Reads of the second-opinion workflow."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from opinions.models import AnalysisRequest

STAGES = ("queued", "loading", "segmenting", "classifying", "saliency", "done")


def visible_requests(user) -> QuerySet:
    """Admins see every request; a referring doctor only their own; residents none."""
    if not user.is_authenticated:
        return AnalysisRequest.objects.none()
    qs = AnalysisRequest.objects.select_related("case", "requested_by")
    if user.is_admin_role:
        return qs
    if user.is_referrer:
        return qs.filter(Q(requested_by=user) | Q(case__owner=user))
    return AnalysisRequest.objects.none()


def progress(request: AnalysisRequest) -> dict:
    """Status for the live progress bar: the database first, then the worker's task meta."""
    status = request.status
    info = {"status": status, "stage": status, "fraction": 0.0, "error": request.error}
    if status == AnalysisRequest.Status.DONE:
        info.update(stage="done", fraction=1.0)
        return info
    if status == AnalysisRequest.Status.FAILED or not request.task_id:
        return info
    from config.celery import app

    task = app.AsyncResult(request.task_id)
    state = task.state
    if state == "PROGRESS" and isinstance(task.info, dict):
        info.update(
            status="running", stage=task.info.get("stage", "running"), fraction=task.info.get("fraction", 0)
        )
    elif state == "STARTED":
        info.update(status="running", stage="loading")
    elif state == "SUCCESS":
        # The worker finished; the bookkeeping worker is recording the opinion.
        info.update(status="running", stage="done", fraction=1.0)
    elif state == "FAILURE":
        info.update(status="failed", stage="failed", error=str(task.info))
    return info
