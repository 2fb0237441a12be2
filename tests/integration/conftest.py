from __future__ import annotations

import pytest

from tests.integration.workers import Worker, worker_env

# The session fixtures phantom_cohorts, phantom_studies and tiny_models live in
# tests/integration/tiny_models.py (a plugin of tests/conftest.py), so the browser tests
# share the same trained models within one run.


@pytest.fixture
def celery_apps():
    from config.celery import app

    # Start from empty queues: nothing left over from an earlier run may be consumed.
    app.control.purge()
    return app


@pytest.fixture
def workers(transactional_db, settings, tmp_path, celery_apps):
    """Both real worker processes, stopped at the end of the test."""
    env = worker_env(settings.MEDIA_ROOT)
    started = {
        "gpu": Worker("inference_worker.celery_app", "gpu", env, tmp_path / "gpu-worker.log").start(),
        "default": Worker("config.celery", "default", env, tmp_path / "default-worker.log").start(),
    }
    yield started
    for worker in started.values():
        worker.stop()
    for name in ("gpu", "default"):
        log = tmp_path / f"{name}-worker.log"
        if log.exists():
            print(f"--- {name} worker log ---\n{log.read_text()[-3000:]}")
