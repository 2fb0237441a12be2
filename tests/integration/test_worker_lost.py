"""A whole inference worker SIGKILLed mid-analysis and never restarted: the request is
marked failed with a plain reason (its heartbeat stopped), and Retry runs it again on a
new worker.

Needs Redis (as tests/integration/test_worker_killed.py). The broker's redelivery is
kept out of the way (a long visibility timeout): this is the lost-machine case, where
nobody would ever pick the old message up.
"""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from opinions.models import AnalysisRequest, ModelOpinion
from tests.integration.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS = os.environ.get("CELERY_BROKER_URL", "")
if not REDIS.startswith("redis"):
    REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_app(monkeypatch, settings):
    """The web side's Celery app on Redis; the workers inherit the same environment,
    with a heartbeat every half second and a web-side timeout of ten seconds."""
    import redis
    from celery import Celery

    import config.celery
    from inference_worker import settings as shared

    monkeypatch.setenv("CELERY_BROKER_URL", REDIS)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", REDIS)
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "3600")
    monkeypatch.setenv("OSTEOLENS_HEARTBEAT_SECONDS", "0.5")
    # Generous against the half-second heartbeat: a loaded CI machine can stall a worker
    # for seconds, and a live analysis must not be taken for a lost one.
    settings.ANALYSIS_HEARTBEAT_TIMEOUT = 10
    redis.Redis.from_url(REDIS).flushdb()
    app = Celery("osteolens-lost-worker-test")
    app.conf.update(shared.celery_config())
    # The views (status, retry) use config.celery.app: the same app, on this Redis.
    monkeypatch.setattr(config.celery, "app", app)
    yield app
    app.close()
    redis.Redis.from_url(REDIS).flushdb()


def test_a_lost_worker_fails_the_request_and_retry_succeeds(
    redis_app, tiny_models, phantom_studies, dora, settings, tmp_path, client_for
):
    # tiny_models is the session's shared set (tests/integration/tiny_models.py): in a
    # full run it is trained once for every end-to-end test, so this one adds no training.
    env = worker_env(settings.MEDIA_ROOT)
    bookkeeper = Worker("config.celery", "default", env, tmp_path / "default.log").start()
    gpu = Worker("inference_worker.celery_app", "gpu", env, tmp_path / "gpu-1.log").start()
    replacement = None
    try:
        from ingest.services import ingest_paths
        from opinions.services import submit_analysis

        case = ingest_paths(phantom_studies["sacral-ct"], user=dora, owner=dora).case
        analysis = submit_analysis(case=case, pipeline="sacral-ct", user=dora, app=redis_app)
        client = client_for(dora)
        status_url = reverse("opinions:status", args=[analysis.public_id])

        def beating():
            analysis.refresh_from_db()
            if not analysis.task_id:
                return False
            result = redis_app.AsyncResult(analysis.task_id)
            return result.state == "PROGRESS" and "heartbeat" in (result.info or {})

        wait_for(beating, timeout=180, interval=0.1, what="the analysis to start beating")
        assert client.get(status_url).json()["status"] == "running"
        gpu.kill()  # the whole worker, and nobody restarts it

        def failed():
            info = client.get(status_url).json()
            return info if info["status"] == "failed" else None

        info = wait_for(failed, timeout=60, interval=0.5, what="the lost analysis to be failed")
        assert "has not reported for" in info["error"] and "Retry" in info["error"]
        analysis.refresh_from_db()
        assert analysis.status == "failed" and "has not reported" in analysis.error
        assert not ModelOpinion.objects.filter(request=analysis).exists()

        response = client.post(reverse("opinions:retry", args=[analysis.public_id]))
        again = AnalysisRequest.objects.exclude(pk=analysis.pk).get()
        assert response["Location"] == reverse("opinions:detail", args=[again.public_id])
        replacement = Worker("inference_worker.celery_app", "gpu", env, tmp_path / "gpu-2.log").start()
        wait_for(
            lambda: ModelOpinion.objects.filter(request=again).exists(),
            timeout=300,
            what="the retried analysis to be recorded",
        )
        again.refresh_from_db()
        assert again.status == "done"
        assert client.get(reverse("opinions:status", args=[again.public_id])).json()["status"] == "done"
        analysis.refresh_from_db()
        assert analysis.status == "failed"
    finally:
        for worker in (gpu, replacement, bookkeeper):
            if worker:
                worker.stop()
