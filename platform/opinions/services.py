"""Writes of the second-opinion workflow, shared by views, the API and tasks."""

from __future__ import annotations

import logging

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

    if request.status != AnalysisRequest.Status.DONE:
        raise ValueError("only a finished analysis can be promoted")
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
