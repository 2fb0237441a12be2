"""The demo models: train them (in the background on the worker, or here), register them,
show their progress, and queue the example second opinions once they serve.

Shared by `train_demo_models`, `run_demo`, the bookkeeping task `demo.models_ready`,
the training progress page and the notice on the second-opinion form.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from demo import services
from inference_worker import demo_training
from inference_worker.queues import TRAINING

log = logging.getLogger(__name__)


def training_kwargs(task: str, quick: bool) -> dict:
    cohort = services.training_cohort(task, quick)
    recipe = "quick" if quick else "full"
    return {
        "task": task,
        "n": cohort.n,
        "seed": cohort.seed,
        # Relative to var/: the worker refuses anything outside it.
        "data": f"demo/training/{recipe}/{task}",
        "splits": services.TRAINING_SPLITS[recipe],
        "quick": quick,
    }


def queue_training(*, quick: bool, app=None, log=print, fresh_worker: bool = False) -> list[str]:
    """Send one training task per pipeline that has no models and none queued or running.

    ``fresh_worker``: the caller has just started the only inference worker (run_demo),
    so a run still marked "running" was cut short by the last stop and is sent again.
    A "queued" one still waits in the broker and is not sent twice.
    """
    if app is None:
        from config.celery import app
    queued = []
    for task in services.TASKS:
        if not services.models_missing(task):
            continue
        state = demo_training.read_progress(task) or {}
        interrupted = fresh_worker and state.get("state") == "running"
        if state.get("state") in ("queued", "running") and not interrupted and not _stale(state):
            log(f"{task}: training already {state['state']}")
            continue
        demo_training.write_progress(
            task,
            state="queued",
            recipe="quick" if quick else "full",
            stage="waiting for the inference worker",
            step=None,
            steps=None,
            elapsed=0,
            error="",
            started=None,
            finished=None,
        )
        app.send_task(
            "inference_worker.train_demo_models", kwargs=training_kwargs(task, quick), queue=TRAINING
        )
        queued.append(task)
    return queued


def _stale(state: dict) -> bool:
    """A "running" file left by a worker that was stopped mid-training: start again."""
    import time

    if state.get("state") != "running":
        return False
    # The worker rewrites the file every second while it trains.
    path = demo_training.progress_path(state["task"])
    try:
        return time.time() - path.stat().st_mtime > 300
    except OSError:
        return True


def train_here(*, quick: bool, log=print) -> list[str]:
    """Train every missing pipeline in this process, one after the other (the command line)."""
    trained = []
    for task in services.TASKS:
        if not services.models_missing(task):
            continue
        log(f"training demo models for {task} ({'quick' if quick else 'full'} recipe, synthetic phantoms)")
        result = demo_training.run_training(
            **training_kwargs(task, quick), report=lambda f, t=task: log(f"  {t}: {f['stage']}")
        )
        log(f"  {task}: done in {result['elapsed']} s")
        trained.append(task)
    return trained


def models_ready(task: str, *, log=print) -> list:
    """Register the models on disk (library backfill follows, teaching.signals) and queue
    the referrer's example second opinion for ``task``."""
    from modelhub.services import sync_from_cards

    started = sync_from_cards()
    for version in started:
        log(f"serving {version.task} {version.name} {version.version}")
    request = ensure_example_opinion(task, log=log)
    return [request] if request else []


def ensure_example_opinion(task: str, *, log=print):
    """One finished second opinion per pipeline for the demo referrer: a held-out study of
    the training phantoms, ingested as the referrer's own case and analysed (queue "gpu")."""
    from accounts.models import User
    from inference_worker.manifest import read_manifest
    from ingest.services import ingest_paths
    from modelhub.services import serving_models
    from opinions.models import AnalysisRequest
    from opinions.services import submit_analysis

    referrer = User.objects.filter(username="referrer").first()
    if referrer is None or not serving_models(task).exists():
        return None
    # A failed example (say, the worker had no models yet) is tried again.
    tried = AnalysisRequest.objects.filter(requested_by=referrer, pipeline=task).order_by("-id")
    if tried.exclude(status=AnalysisRequest.Status.FAILED).exists():
        return None
    if tried.exists():  # its study is stored already: ask again on the same case
        case = tried.first().case
    else:
        study = _held_out_study(task, read_manifest)
        if not study:
            log(f"{task}: no held-out phantom study for the example second opinion")
            return None
        case = ingest_paths(study, user=referrer, owner=referrer, in_library=False).case
    request = submit_analysis(case=case, pipeline=task, user=referrer)
    log(f"{task}: example second opinion queued for the referrer")
    return request


def _held_out_study(task: str, read_manifest) -> list[Path]:
    """The files of the first test-split study among the training phantoms of ``task``."""
    for recipe in ("full", "quick"):
        manifest = Path(settings.VAR_DIR) / "demo" / "training" / recipe / task / "manifest.csv"
        if not manifest.exists():
            continue
        for row in read_manifest(manifest):
            if row.split == "test" and row.files():
                return row.files()
    return []


@dataclass
class TrainingStatus:
    task: str
    label: str
    ready: bool
    state: str  # "ready", "queued", "running", "failed", "not started"
    stage: str = ""
    step: int | None = None
    steps: int | None = None
    elapsed: int | None = None
    remaining: int | None = None
    recipe: str = ""
    error: str = ""

    @property
    def percent(self) -> int:
        """The whole pipeline's progress for the bar: elapsed over elapsed plus the estimate."""
        if self.ready:
            return 100
        if self.elapsed is None or self.remaining is None or self.elapsed + self.remaining <= 0:
            return 0
        return min(99, round(100 * self.elapsed / (self.elapsed + self.remaining)))


def training_status() -> list[TrainingStatus]:
    """One row per pipeline: serving already, or where its training stands."""
    from inference_worker import vocabulary as vocab
    from modelhub.services import serving_models

    rows = []
    for task in services.TASKS:
        label = vocab.TASKS[task]["label"]
        ready = serving_models(task).exists()
        state = demo_training.read_progress(task) or {}
        if ready:
            rows.append(TrainingStatus(task, label, True, "ready", elapsed=state.get("elapsed")))
            continue
        rows.append(
            TrainingStatus(
                task,
                label,
                False,
                state.get("state") or "not started",
                stage=state.get("stage", ""),
                step=state.get("step"),
                steps=state.get("steps"),
                elapsed=state.get("elapsed"),
                remaining=state.get("remaining"),
                recipe=state.get("recipe", ""),
                error=state.get("error", ""),
            )
        )
    return rows


def models_notice() -> dict | None:
    """The second-opinion form's notice while some pipeline has no serving model; None
    when all serve."""
    rows = training_status()
    ready = [r for r in rows if r.ready]
    if len(ready) == len(rows):
        return None
    training = [r for r in rows if r.state in ("queued", "running")]
    return {"ready": len(ready), "total": len(rows), "rows": rows, "training": bool(training)}
