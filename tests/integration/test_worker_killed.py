"""A worker killed with SIGKILL mid-analysis loses nothing: the task is redelivered to
the restarted worker and the opinion is recorded exactly once.

Needs a broker with acknowledgements (Redis, as in CI and production); the embedded
filesystem broker has none, so this test always runs against the machine's Redis.
"""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from opinions.models import ModelOpinion
from tests.integration.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS = os.environ.get("CELERY_BROKER_URL", "")
if not REDIS.startswith("redis"):
    REDIS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_app(monkeypatch):
    """A Celery app on Redis with a short visibility timeout (the redelivery delay);
    the worker processes inherit the same environment."""
    from celery import Celery

    from inference_worker import settings as shared

    monkeypatch.setenv("CELERY_BROKER_URL", REDIS)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", REDIS)
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "6")
    app = Celery("osteolens-sigkill-test")
    app.conf.update(shared.celery_config())
    app.control.purge()
    yield app
    app.close()


def test_sigkill_mid_analysis_records_the_opinion_once(
    redis_app, tiny_models, phantom_studies, dora, settings, tmp_path, client_for
):
    env = worker_env(settings.MEDIA_ROOT)
    bookkeeper = Worker("config.celery", "default", env, tmp_path / "default.log").start()
    gpu = Worker("inference_worker.celery_app", "gpu", env, tmp_path / "gpu-1.log").start()
    restarted = None
    try:
        from ingest.services import ingest_paths
        from opinions.services import submit_analysis

        case = ingest_paths(phantom_studies["sacral-ct"], user=dora, owner=dora).case
        analysis = submit_analysis(case=case, pipeline="sacral-ct", user=dora, app=redis_app)
        client = client_for(dora)

        def mid_analysis():
            analysis.refresh_from_db()
            if not analysis.task_id:
                return False
            return redis_app.AsyncResult(analysis.task_id).state in ("STARTED", "PROGRESS")

        wait_for(mid_analysis, timeout=180, interval=0.1, what="the analysis to start")
        gpu.kill()
        assert not ModelOpinion.objects.filter(request=analysis).exists()

        restarted = Worker("inference_worker.celery_app", "gpu", env, tmp_path / "gpu-2.log").start()
        wait_for(
            lambda: ModelOpinion.objects.filter(request=analysis).exists(),
            timeout=300,
            what="the redelivered analysis to be recorded",
        )
        # Let any duplicate delivery finish too, then count.
        wait_for(
            lambda: redis_app.AsyncResult(analysis.task_id).state == "SUCCESS", timeout=120, what="success"
        )
        assert ModelOpinion.objects.filter(request=analysis).count() == 1
        analysis.refresh_from_db()
        assert analysis.status == "done"
        page = client.get(reverse("opinions:detail", args=[analysis.public_id]))
        assert page.status_code == 200
    finally:
        for worker in (gpu, restarted, bookkeeper):
            if worker:
                worker.stop()
