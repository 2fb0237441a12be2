"""The worker boundary over the real broker: web side -> worker process -> result."""

from __future__ import annotations

import os

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_ping_round_trip_through_a_real_worker_process(workers, celery_apps):
    result = celery_apps.send_task("inference_worker.ping", kwargs={"payload": "hello"}, queue="gpu")
    answer = result.get(timeout=90)
    assert answer["payload"] == "hello"
    assert answer["device"] in ("cpu", "cuda")
    # It ran in another process, not in the test.
    assert answer["pid"] != os.getpid()
