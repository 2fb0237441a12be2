"""The inference worker's queue order: requests, then demo training, then library backfill."""

from __future__ import annotations

from queue import Empty

import pytest

from inference_worker import settings as shared
from inference_worker.queues import BACKFILL, REQUESTS, TRAINING, StrictOrderCycle


def consumer(messages: dict[str, list[str]]):
    """A queue reader over in-memory lists, shaped like kombu's channel._get_and_deliver."""

    def get(queue, callback):
        if not messages.get(queue):
            raise Empty()
        callback(messages[queue].pop(0))

    return get


def test_every_poll_starts_from_the_request_queue():
    messages = {BACKFILL: ["b1", "b2", "b3"], REQUESTS: ["r1", "r2"], TRAINING: ["t1"]}
    delivered = []
    # Listed in the worst order: the cycle must not depend on how queues were added.
    cycle = StrictOrderCycle(consumer(messages), [BACKFILL, TRAINING, REQUESTS], Empty)
    for _ in range(6):
        cycle.get(delivered.append)
    # kombu's FairCycle would alternate (r1, t1, b1, r2, ...).
    assert delivered == ["r1", "r2", "t1", "b1", "b2", "b3"]
    with pytest.raises(Empty):
        cycle.get(delivered.append)


def test_a_request_arriving_mid_backfill_is_next():
    messages = {REQUESTS: [], BACKFILL: ["b1", "b2", "b3"]}
    delivered = []
    cycle = StrictOrderCycle(consumer(messages), [REQUESTS, BACKFILL], Empty)
    cycle.get(delivered.append)
    messages[REQUESTS].append("r1")
    cycle.get(delivered.append)
    cycle.get(delivered.append)
    assert delivered == ["b1", "r1", "b2"]


def test_filesystem_broker_uses_the_strict_transport(monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    config = shared.celery_config()
    assert config["broker_transport"] == "inference_worker.queues:PriorityFilesystemTransport"
    assert config["task_routes"]["inference_worker.train_demo_models"] == {"queue": TRAINING}


def test_redis_broker_orders_its_queues_by_priority(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    config = shared.celery_config()
    assert config["broker_transport"] is None  # the URL's scheme chooses the transport
    assert config["broker_transport_options"]["queue_order_strategy"] == "priority"
    assert shared.INFERENCE_QUEUES == (REQUESTS, TRAINING, BACKFILL)


@pytest.mark.django_db(transaction=True)
def test_library_backfill_goes_to_the_backfill_queue(monkeypatch, tmp_path, settings):
    """analyse_library sends through the real broker; the message lands on gpu-backfill."""
    from celery import Celery

    from opinions.models import AnalysisRequest
    from teaching import services as teaching
    from tests.platform.factories import make_case

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("OSTEOLENS_VAR_DIR", str(tmp_path / "var"))
    app = Celery("backfill-queue-test")
    app.conf.update(shared.celery_config())
    import config.celery

    monkeypatch.setattr(config.celery, "app", app)  # the real app on a broker folder of its own
    settings.TEACHING_AUTO_ANALYSE = False  # only the explicit call below queues
    from modelhub.models import ModelVersion

    case = make_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    ModelVersion.objects.create(task="bone-xray", name="m", version="1", sha256="x", status="serving")
    queued = teaching.analyse_library([case])
    assert [r.case_id for r in queued] == [case.pk]
    assert AnalysisRequest.objects.get(pk=queued[0].pk).task_id
    names = [p.name for p in (tmp_path / "var" / "broker" / "queue").iterdir()]
    assert len(names) == 1 and names[0].endswith(f".{BACKFILL}.msg"), names
    app.close()
