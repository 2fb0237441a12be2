"""Bookkeeping task of the demo (queue "default"), sent by the inference worker's
training task (inference_worker.demo_training) when a pipeline's models are saved."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="demo.models_ready", acks_late=True, reject_on_worker_lost=True)
def models_ready(*, task: str) -> list[str]:
    from demo.training import models_ready as register

    return [str(r.public_id) for r in register(task)]
