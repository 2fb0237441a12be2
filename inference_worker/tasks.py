"""Celery tasks of the inference worker: a thin skin over the pipelines.

Tasks take keyword-only JSON arguments and return JSON. Files move through shared
storage (MEDIA_ROOT), never through the broker. ``analyze`` is idempotent: a result
already written for the same request id is returned as it is, so a redelivered task
(after a worker died mid-analysis) does not compute or record a second opinion.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from inference_worker import settings
from inference_worker.celery_app import app

log = logging.getLogger(__name__)
RESULT_NAME = "result.json"


def _inside(root: Path, relative: str) -> Path:
    """Resolve a storage-relative path, refusing anything that escapes the root."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"path {relative!r} escapes the storage root")
    return path


def run_analysis(
    *,
    request_id: str,
    pipeline: str,
    inputs: list[str],
    out_dir: str,
    clinical=None,
    reader=None,
    progress=None,
) -> dict:
    """The task body as a plain function (also used by tests and the shell)."""
    root = settings.media_root()
    out = _inside(root, out_dir)
    result_file = out / RESULT_NAME
    if result_file.exists():
        previous = json.loads(result_file.read_text())
        if previous.get("request_id") == request_id:
            log.info("request %s already analysed; returning the stored result", request_id)
            return previous
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(_inside(root, p)) for p in inputs]

    from inference_worker.pipelines import pipeline as pipeline_module

    started = time.perf_counter()
    result = pipeline_module(pipeline).analyze(
        paths, clinical=clinical, reader=reader, out_dir=str(out), progress=progress
    )
    result["request_id"] = request_id
    result["out_dir"] = out_dir
    result.setdefault("timings", {})["total"] = round(time.perf_counter() - started, 3)
    # Write atomically: a half-written result must never look finished.
    tmp = result_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float))
    os.replace(tmp, result_file)
    return result


@app.task(
    bind=True,
    name="inference_worker.analyze",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=900,
    time_limit=960,
    max_retries=0,
)
def analyze(
    self, *, request_id: str, pipeline: str, inputs: list[str], out_dir: str, clinical=None, reader=None
):
    heartbeat = Heartbeat(self)
    heartbeat.progress("loading", 0.0)
    try:
        return run_analysis(
            request_id=request_id,
            pipeline=pipeline,
            inputs=inputs,
            out_dir=out_dir,
            clinical=clinical,
            reader=reader,
            progress=heartbeat.progress,
        )
    except SoftTimeLimitExceeded:
        raise RuntimeError("analysis took longer than its time limit") from None
    finally:
        # Before the task's own result is stored: a late beat must not overwrite it.
        heartbeat.stop()


def heartbeat_seconds() -> float:
    return float(os.environ.get("OSTEOLENS_HEARTBEAT_SECONDS") or 15)


class Heartbeat:
    """The task's PROGRESS meta, re-stored with a fresh timestamp every few seconds.

    A stage can run for minutes without a progress call, and a worker that dies (SIGKILL,
    lost machine) leaves its last state behind for good; the web side tells a live
    analysis from a lost one by the age of "heartbeat" (opinions.services.lost_reason).
    """

    def __init__(self, task, interval: float | None = None):
        self.task = task
        self.interval = interval or heartbeat_seconds()
        self.meta = {"stage": "loading", "fraction": 0.0}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="analysis-heartbeat", daemon=True)
        self.thread.start()

    def progress(self, stage: str, fraction: float) -> None:
        with self.lock:
            self.meta = {"stage": stage, "fraction": round(float(fraction), 3)}
            self._store()

    def _store(self) -> None:
        if not self.stopped.is_set():
            self.task.update_state(state="PROGRESS", meta={**self.meta, "heartbeat": time.time()})

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                with self.lock:
                    self._store()
            except Exception:  # a backend hiccup must not end the beat; the next one retries
                log.warning("heartbeat not stored", exc_info=True)

    def stop(self) -> None:
        with self.lock:
            self.stopped.set()
        self.thread.join(timeout=5)


@app.task(name="inference_worker.ping")
def ping(*, payload: str = "pong") -> dict:
    """Round trip check used by health pages and tests."""
    from inference_worker.devices import describe

    return {"payload": payload, **describe(), "pid": os.getpid()}
