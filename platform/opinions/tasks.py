"""Bookkeeping tasks (queue "default"): record what the inference worker returned."""

from __future__ import annotations

from celery import shared_task

from opinions import services


@shared_task(name="opinions.record_opinion", acks_late=True, reject_on_worker_lost=True)
def record_opinion(result: dict) -> int | None:
    # Called as the analyze task's link: Celery passes the parent's result positionally.
    opinion = services.record_result(result)
    return opinion.pk if opinion else None


@shared_task(name="opinions.record_failure", bind=True, acks_late=True)
def record_failure(self, failed_task_id, *args, request_id: str) -> None:
    # The inference worker does not know this task, so Celery sends the old-style
    # errback with only the failed task's id: read the reason from the result backend.
    reason = "the analysis failed"
    if isinstance(failed_task_id, str):
        failed = self.app.AsyncResult(failed_task_id)
        if failed.result is not None:
            reason = f"{type(failed.result).__name__}: {failed.result}"
    services.record_failure(request_id=request_id, reason=reason)


@shared_task(name="opinions.mark_lost_analyses", acks_late=True)
def mark_lost_analyses() -> list[str]:
    # Run by beat (config.celery, "opinions-lost"): requests whose worker went away are
    # marked failed with a reason, so their owners can retry.
    return services.mark_lost_analyses()
