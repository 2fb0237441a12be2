"""The inference worker's Celery app (no Django).

Run: ``celery -A inference_worker.celery_app worker -Q gpu --concurrency 1``.
"""

from __future__ import annotations

from celery import Celery

from inference_worker import settings

app = Celery("inference_worker")
app.conf.update(settings.celery_config())
app.conf.update(
    # One model-heavy task at a time per process; models stay loaded between tasks.
    worker_concurrency=1,
    imports=("inference_worker.tasks", "inference_worker.demo_training"),
)
