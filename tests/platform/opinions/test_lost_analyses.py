"""An analysis whose worker is gone is marked failed with a reason, and can be retried.

The task states are written into the web side's real result backend, as the inference
worker writes them (PROGRESS meta with a heartbeat timestamp); the whole-worker SIGKILL
is tests/integration/test_worker_lost.py.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from opinions import services
from opinions.models import AnalysisRequest
from tests.platform.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _timeouts(settings):
    settings.ANALYSIS_HEARTBEAT_TIMEOUT = 60
    settings.ANALYSIS_QUEUE_TIMEOUT = 3600


def queued(owner, *, state: str | None, meta=None, age_s: float = 0) -> AnalysisRequest:
    from config.celery import app

    case = make_case(in_library=False, owner=owner, diagnosis=None)
    task_id = str(uuid.uuid4())
    analysis = AnalysisRequest.objects.create(
        case=case, requested_by=owner, pipeline="sacral-ct", task_id=task_id
    )
    AnalysisRequest.objects.filter(pk=analysis.pk).update(
        created_at=timezone.now() - timedelta(seconds=age_s)
    )
    if state is not None:
        app.backend.store_result(task_id, meta, state)
    analysis.refresh_from_db()
    return analysis


def beat(seconds_ago: float) -> dict:
    return {"stage": "segmenting", "fraction": 0.4, "heartbeat": time.time() - seconds_ago}


def test_a_silent_worker_fails_the_request_and_retry_runs_it_again(client_for, dora):
    analysis = queued(dora, state="PROGRESS", meta=beat(600), age_s=700)
    client = client_for(dora)
    info = client.get(f"/opinions/{analysis.public_id}/status.json").json()
    assert info["status"] == "failed"
    assert "has not reported for" in info["error"] and "Retry" in info["error"]
    analysis.refresh_from_db()
    assert analysis.status == "failed" and analysis.finished_at is not None

    # The new request is queued once the transaction commits (never, inside this test;
    # the integration test runs it on a real worker).
    response = client.post(f"/opinions/{analysis.public_id}/retry/")
    again = AnalysisRequest.objects.exclude(pk=analysis.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/opinions/{again.public_id}/"
    assert (again.case_id, again.pipeline, again.status) == (analysis.case_id, "sacral-ct", "queued")


def test_a_recent_heartbeat_keeps_it_running(client_for, dora):
    analysis = queued(dora, state="PROGRESS", meta=beat(5), age_s=7000)
    info = client_for(dora).get(f"/opinions/{analysis.public_id}/status.json").json()
    assert info["status"] == "running" and info["stage"] == "segmenting"
    analysis.refresh_from_db()
    assert analysis.status == "queued"
    response = client_for(dora).post(f"/opinions/{analysis.public_id}/retry/")
    assert response.status_code == 302 and AnalysisRequest.objects.count() == 1


def test_never_started_within_the_queue_timeout_is_lost(dora):
    waiting = queued(dora, state=None, age_s=600)
    forgotten = queued(dora, state=None, age_s=7200)
    silent = queued(dora, state="PROGRESS", meta=beat(61))
    finished = queued(dora, state="SUCCESS", meta={"request_id": "x"}, age_s=7200)
    from opinions.tasks import mark_lost_analyses

    marked = mark_lost_analyses()
    assert sorted(marked) == sorted([str(forgotten.public_id), str(silent.public_id)])
    statuses = {a.pk: a.status for a in AnalysisRequest.objects.all()}
    assert statuses == {
        waiting.pk: "queued",
        forgotten.pk: "failed",
        silent.pk: "failed",
        finished.pk: "queued",
    }
    forgotten.refresh_from_db()
    assert "No worker finished the analysis within 2.0 hours" in forgotten.error


def test_a_finished_request_is_never_marked_lost(dora):
    analysis = queued(dora, state="PROGRESS", meta=beat(600))
    AnalysisRequest.objects.filter(pk=analysis.pk).update(status="done")
    analysis.refresh_from_db()
    assert services.fail_if_lost(analysis) is False
    analysis.refresh_from_db()
    assert analysis.status == "done"


def test_beat_schedules_the_sweep():
    from config.celery import app

    entry = app.conf.beat_schedule["opinions-lost"]
    assert entry["task"] == "opinions.mark_lost_analyses" and entry["options"]["queue"] == "default"
    assert "opinions.mark_lost_analyses" in app.tasks
