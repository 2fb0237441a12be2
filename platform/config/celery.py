"""The web side's Celery app: sends analyses to the inference worker (queue "gpu") and
runs the bookkeeping tasks that record their results (queue "default").

Run the bookkeeping worker with: ``celery -A config.celery worker -Q default`` from
platform/ (or `manage.py run_demo`, which starts everything).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from celery import Celery  # noqa: E402

from inference_worker import settings as shared  # noqa: E402

app = Celery("osteolens")
app.conf.update(shared.celery_config())
app.conf.update(broker_url=shared.broker_url(), result_backend=shared.result_backend())
app.autodiscover_tasks(["opinions", "ingest"])

# What killed uploads left behind: stale staged uploads and orphan stored objects.
app.conf.beat_schedule["ingest-cleanup"] = {"task": "ingest.cleanup", "schedule": 3600.0}
# Requests whose worker was lost are marked failed (opinions.services.lost_reason).
app.conf.beat_schedule["opinions-lost"] = {
    "task": "opinions.mark_lost_analyses",
    "schedule": 60.0,
    "options": {"queue": "default"},
}
