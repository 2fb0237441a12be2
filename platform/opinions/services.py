"""Writes of the second-opinion workflow, shared by views, the API and tasks."""

from __future__ import annotations

import logging
import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Case, Instance
from opinions.models import AnalysisRequest, ModelOpinion

log = logging.getLogger(__name__)


def case_inputs(case: Case) -> list[str]:
    """Storage-relative paths of the case's stored images, in stack order."""
    return list(
        Instance.objects.filter(series__study__case=case)
        .order_by(
            "series__study_id", "series__number", "series_id", "slice_location", "instance_number", "id"
        )
        .values_list("path", flat=True)
    )


def submit_analysis(
    *, case: Case, pipeline: str, user=None, clinical=None, reader=None, app=None, queue: str = "gpu"
) -> AnalysisRequest:
    """Create the request and queue it to the inference worker once the row is committed.

    ``queue``: "gpu" for someone waiting on the answer, "gpu-backfill" for library
    re-analysis, which the worker takes only when no request waits (inference_worker/queues.py).
    """
    if app is None:
        from config.celery import app

    if clinical is None and hasattr(case, "clinical"):
        clinical = case.clinical.as_dict()
    request = AnalysisRequest.objects.create(
        case=case, requested_by=user, pipeline=pipeline, clinical=clinical or {}, reader=reader
    )

    def enqueue() -> None:
        kwargs = {
            "request_id": str(request.public_id),
            "pipeline": pipeline,
            "inputs": case_inputs(case),
            "out_dir": request.out_dir,
            "clinical": request.clinical,
            "reader": request.reader,
        }
        result = app.send_task(
            "inference_worker.analyze",
            kwargs=kwargs,
            queue=queue,
            link=app.signature("opinions.record_opinion", queue="default"),
            link_error=app.signature(
                "opinions.record_failure", kwargs={"request_id": str(request.public_id)}, queue="default"
            ),
        )
        AnalysisRequest.objects.filter(pk=request.pk).update(task_id=result.id)

    transaction.on_commit(enqueue)
    return request


def record_result(result: dict) -> ModelOpinion | None:
    """Store a worker result once; a second delivery of the same result changes nothing.

    The viewer's overlay volumes are made first, outside the row lock: resampling takes
    a second or two, and a redelivery only rewrites the same files.
    """
    from opinions.overlays import with_viewer_overlays

    request = AnalysisRequest.objects.filter(public_id=result.get("request_id")).first()
    if request is not None and not ModelOpinion.objects.filter(request=request).exists():
        result = with_viewer_overlays(request, result)
    return _store_result(result)


@transaction.atomic
def _store_result(result: dict) -> ModelOpinion | None:
    request = AnalysisRequest.objects.select_for_update().filter(public_id=result["request_id"]).first()
    if request is None:
        log.warning("result for unknown request %s dropped", result.get("request_id"))
        return None
    existing = ModelOpinion.objects.filter(request=request).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            opinion = ModelOpinion.objects.create(
                request=request,
                result=result,
                out_of_domain=bool(result.get("out_of_domain")),
                synthetic_training=bool(result.get("synthetic_training")),
                model_versions=[
                    {k: m.get(k) for k in ("name", "version", "sha256", "synthetic_training")}
                    for m in result.get("models", [])
                ],
            )
    except IntegrityError:
        return ModelOpinion.objects.get(request=request)
    request.status = AnalysisRequest.Status.DONE
    request.error = ""
    request.finished_at = timezone.now()
    request.save(update_fields=["status", "error", "finished_at"])
    return opinion


def record_failure(*, request_id: str, reason: str) -> None:
    AnalysisRequest.objects.filter(public_id=request_id).exclude(status=AnalysisRequest.Status.DONE).update(
        status=AnalysisRequest.Status.FAILED, error=reason[:2000], finished_at=timezone.now()
    )


# --- lost analyses -------------------------------------------------------------------------
# A worker that dies as a whole (SIGKILL, lost machine) leaves its task's last state behind
# for good: the request would stay "queued" and look "running". The inference worker
# re-stores its PROGRESS meta with a timestamp every few seconds (inference_worker.tasks.
# Heartbeat); a request whose heartbeat is older than ANALYSIS_HEARTBEAT_TIMEOUT, or
# that no worker has finished within ANALYSIS_QUEUE_TIMEOUT of being sent, is lost. The
# status endpoint, Retry and the periodic bookkeeping task (opinions.mark_lost_analyses)
# all apply this one rule.

LIVE_STATUSES = (AnalysisRequest.Status.QUEUED, AnalysisRequest.Status.RUNNING)


def lost_reason(request: AnalysisRequest, *, state: str, info, now: float | None = None) -> str | None:
    """Why the request counts as lost given its task's state and meta; None if it does not."""
    from django.conf import settings

    if request.status not in LIVE_STATUSES:
        return None
    now = time.time() if now is None else now
    heartbeat_timeout = settings.ANALYSIS_HEARTBEAT_TIMEOUT
    beat = info.get("heartbeat") if isinstance(info, dict) else None
    if state == "PROGRESS" and isinstance(beat, int | float):
        silent = now - beat
        if silent > heartbeat_timeout:
            return (
                f"The analysis stopped: its worker has not reported for {silent:.0f} seconds "
                f"(it was probably shut down or lost). Retry to run it again."
            )
        return None
    if state in ("SUCCESS", "FAILURE", "REVOKED"):
        return None  # finished: the bookkeeping worker records it
    waited = now - request.created_at.timestamp()
    if waited > settings.ANALYSIS_QUEUE_TIMEOUT:
        return (
            f"No worker finished the analysis within {waited / 3600:.1f} hours of the request "
            f"(no worker running, or the task was lost). Retry to run it again."
        )
    return None


def task_state(request: AnalysisRequest, app=None) -> tuple[str, object]:
    if app is None:
        from config.celery import app
    task = app.AsyncResult(request.task_id)
    return task.state, task.info


def fail_if_lost(request: AnalysisRequest, app=None) -> bool:
    """Mark the request failed, with the reason, when it is lost; True when it is (now) failed."""
    if request.status == AnalysisRequest.Status.FAILED:
        return True
    if request.status not in LIVE_STATUSES:
        return False
    state, info = task_state(request, app) if request.task_id else ("PENDING", None)
    reason = lost_reason(request, state=state, info=info)
    if reason is None:
        return False
    record_failure(request_id=str(request.public_id), reason=reason)
    request.refresh_from_db(fields=["status", "error", "finished_at"])
    log.warning("analysis %s marked lost: %s", request.public_id, reason)
    return request.status == AnalysisRequest.Status.FAILED


def mark_lost_analyses(app=None, *, limit: int = 500) -> list[str]:
    """The periodic sweep: every live request checked; returns the ids marked failed."""
    marked = []
    live = AnalysisRequest.objects.filter(status__in=LIVE_STATUSES).order_by("created_at")[:limit]
    for request in live:
        if fail_if_lost(request, app):
            marked.append(str(request.public_id))
    return marked


class NotPromotable(ValueError):
    """The request has no finished opinion, so its case cannot enter the library."""


@transaction.atomic
def promote_to_library(
    request: AnalysisRequest,
    *,
    diagnosis: str,
    behaviour: str,
    confirmation: str,
    certainty: str,
    notes: str = "",
    confirmed_by=None,
) -> Case:
    """A finished referral becomes a pathology-proven library case (confirmation recorded)."""
    from cases.models import Histopathology

    # Lock the row so a concurrent retry or failure cannot slip between check and write.
    current = (
        AnalysisRequest.objects.select_for_update().filter(pk=request.pk).values_list("status", flat=True)
    )
    if request.pk is None or current.first() != AnalysisRequest.Status.DONE:
        raise NotPromotable("Only a finished analysis can be promoted to the library.")
    case = request.case
    Histopathology.objects.update_or_create(
        case=case,
        defaults={
            "diagnosis": diagnosis,
            "behaviour": behaviour,
            "confirmation": confirmation,
            "certainty": certainty,
            "notes": notes,
            "confirmed_by": confirmed_by,
        },
    )
    case.in_library = True
    case.source = Case.Source.PROMOTED
    case.save(update_fields=["in_library", "source"])
    return case
