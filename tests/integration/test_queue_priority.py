"""A second-opinion request waits for no library backfill: the inference worker serves its
queues in order (requests, demo training, backfill), not round-robin.

A real inference worker process on the configured broker (the embedded filesystem
broker here, Redis in CI) with hundreds of trivial backfill tasks queued. Requests sent
while it works through them run next, one after the other, with no backfill task
between them: kombu's default round-robin would slip one in after every request.
"""

from __future__ import annotations

import pytest

from tests.integration.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.integration]

BACKFILL_TASKS = 200
REQUESTS = 3


@pytest.fixture
def isolated_app(monkeypatch, tmp_path):
    """A Celery app with the shared settings on a broker folder (and result store) of its
    own; the worker processes inherit the same environment."""
    from celery import Celery

    from inference_worker import settings as shared

    monkeypatch.setenv("OSTEOLENS_VAR_DIR", str(tmp_path / "var"))
    app = Celery("osteolens-priority-test")
    app.conf.update(shared.celery_config())
    with app.connection_for_write() as conn:
        for queue in shared.INFERENCE_QUEUES:
            conn.default_channel.queue_declare(queue, durable=True, auto_delete=False)
            conn.default_channel.queue_purge(queue)
    yield app
    app.close()


def inference_worker(env, log):
    from inference_worker.settings import INFERENCE_QUEUES

    worker = Worker("inference_worker.celery_app", "gpu", env, log)
    worker.args[worker.args.index("-Q") + 1] = ",".join(INFERENCE_QUEUES)
    return worker


def test_requests_jump_the_backfill_queue(isolated_app, tmp_path):
    app = isolated_app
    backfill = [
        app.send_task("inference_worker.ping", kwargs={"payload": f"b{i}"}, queue="gpu-backfill")
        for i in range(BACKFILL_TASKS)
    ]
    worker = inference_worker(worker_env(tmp_path / "media"), tmp_path / "worker.log").start()
    try:
        # The worker is busy with the backfill when the requests arrive.
        wait_for(lambda: backfill[0].ready(), timeout=120, what="the first backfill task")
        requests = [
            app.send_task("inference_worker.ping", kwargs={"payload": f"r{i}"}, queue="gpu")
            for i in range(REQUESTS)
        ]
        ready_at_send = sum(1 for b in backfill if b.ready())
        for request in requests:
            assert request.get(timeout=120)["payload"].startswith("r")
        done_before = sum(1 for b in backfill if b.ready())
        assert done_before < BACKFILL_TASKS, "the backfill ran out before the requests arrived"
        # Same-millisecond messages leave the filesystem broker in name order, not sent order.
        wait_for(
            lambda: all(b.ready() for b in backfill), timeout=300, interval=1, what="the rest of the backfill"
        )
    finally:
        worker.stop()

    finished = sorted(
        [(r.date_done, "request") for r in requests] + [(b.date_done, "backfill") for b in backfill]
    )
    order = [kind for _, kind in finished]
    first = order.index("request")
    last = len(order) - 1 - order[::-1].index("request")
    # Requests run back to back, the first one after at most the backfill task that was
    # running when they had all been sent and one more the worker may have reserved,
    # though most of the backfill was queued before them.
    assert order[first : last + 1] == ["request"] * REQUESTS, order[max(0, first - 2) : last + 3]
    assert first - ready_at_send <= 2, (first, ready_at_send)
    assert first < BACKFILL_TASKS // 2
    assert order.count("backfill") == BACKFILL_TASKS
