"""The inference worker's queues, in the order it serves them, and the broker glue that
makes that order strict.

One worker process consumes all three queues, one task at a time (prefetch 1):

- ``gpu``: second-opinion requests, someone is waiting for the answer;
- ``gpu-train``: the demo's background model training, one task per pipeline, so a
  request sent while a model trains waits for that pipeline's training at most;
- ``gpu-backfill``: re-analysis of library cases when a model version starts serving
  (hundreds at a time), taken only when nothing else waits.

Kombu hands a multi-queue consumer its queues round-robin by default, which would let a
request wait behind a backfill analysis every other turn. Redis has a built-in strict
order (transport option ``queue_order_strategy="priority"``); the filesystem broker of
the embedded set-up has none, so ``PriorityFilesystemTransport`` below adds it: every
poll starts again from the first queue in ``ORDER``.
"""

from __future__ import annotations

from kombu.transport import filesystem
from kombu.utils.scheduling import FairCycle

from inference_worker.settings import BACKFILL_QUEUE as BACKFILL
from inference_worker.settings import INFERENCE_QUEUES as ORDER
from inference_worker.settings import REQUESTS_QUEUE as REQUESTS
from inference_worker.settings import TRAINING_QUEUE as TRAINING

# The names are defined once, in inference_worker.settings; importers use them from here.
__all__ = [
    "BACKFILL",
    "ORDER",
    "RANK",
    "REQUESTS",
    "TRAINING",
    "PriorityFilesystemTransport",
    "StrictOrderCycle",
]

RANK = {name: rank for rank, name in enumerate(ORDER)}


class StrictOrderCycle(FairCycle):
    """Poll the active queues in ``ORDER`` every time, never round-robin."""

    def get(self, callback, **kwargs):
        # The channel mutates this list in place as consumers come and go, so order it
        # here, on each poll; unknown queues (the bookkeeping side's) keep their order last.
        self.resources.sort(key=lambda queue: RANK.get(queue, len(RANK)))
        self.pos = 0
        return super().get(callback, **kwargs)


class PriorityFilesystemChannel(filesystem.Channel):
    def _reset_cycle(self):
        from queue import Empty

        self._cycle = StrictOrderCycle(self._get_and_deliver, self._active_queues, Empty)


class PriorityFilesystemTransport(filesystem.Transport):
    """kombu's filesystem transport with strict queue order (see the module doc)."""

    Channel = PriorityFilesystemChannel
