"""The demo's background training: one Celery task per pipeline, on the inference worker.

The web side (``manage.py train_demo_models --background``, run by ``run_demo``) sends
one ``inference_worker.train_demo_models`` task per pipeline to the ``gpu-train`` queue.
Each task makes the training phantoms (if missing), runs our own training command
(``python -m inference_worker train``) in a child process, so the device choice stays
the command's own (CUDA when present), and keeps a progress file that the admin page
reads. When a pipeline's models are saved it tells the bookkeeping worker
(``demo.models_ready`` on the "default" queue), which registers them and queues the
example second opinions.

The progress file lives under ``var/demo/training/<task>.json`` and is always replaced
whole (write, then rename), so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from inference_worker import devices, settings
from inference_worker.celery_app import app

# Measured wall times of a whole pipeline's training (phantoms included) on the 2-core
# CPU machine the project is developed on; only used for the progress page's estimate
# before the command reports its own steps. See README "Demo" for the figures.
EXPECTED_SECONDS = {
    ("sacral-ct", "quick"): 60,
    ("bone-xray", "quick"): 30,
    ("spine-xray", "quick"): 40,
    ("sacral-ct", "full"): 2400,
    ("bone-xray", "full"): 1200,
    ("spine-xray", "full"): 2400,
}
STEP = re.compile(r"(?:step|epoch)\s+(\d+)\s*/\s*(\d+)", re.IGNORECASE)


def progress_dir() -> Path:
    return settings.var_dir() / "demo" / "training"


def progress_path(task: str) -> Path:
    return progress_dir() / f"{task}.json"


def write_progress(task: str, **fields) -> dict:
    """Merge ``fields`` into the task's progress file and replace it atomically."""
    path = progress_path(task)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = read_progress(task) or {"task": task}
    state.update(fields)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)
    return state


def read_progress(task: str) -> dict | None:
    try:
        return json.loads(progress_path(task).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def parse_step(line: str) -> tuple[int, int] | None:
    """``(step, steps)`` from a training log line such as 'segmenter step 300/1200: ...'."""
    match = STEP.search(line)
    if not match:
        return None
    step, steps = int(match.group(1)), int(match.group(2))
    return (step, steps) if 0 < step <= steps else None


def estimate_remaining(
    task: str, recipe: str, elapsed: float, stage_step=None, stage_elapsed=0.0
) -> int | None:
    """Seconds left: the measured total for this recipe, or when the current stage runs
    longer than that, what its own step rate says about the stage. None once the run is
    past its usual time with no step count to go by (a busy machine): no made-up figure."""
    left = EXPECTED_SECONDS.get((task, recipe), 600) - elapsed
    if stage_step:
        step, steps = stage_step
        left = max(left, stage_elapsed / step * (steps - step))
    return round(left) if left > 0 else None


def _inside_var(relative: str) -> Path:
    root = settings.var_dir().resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"path {relative!r} escapes the var folder")
    return path


def ensure_phantoms(task: str, n: int, seed: int, data: str, splits: dict) -> Path:
    """The training phantoms under var/, made once (a rerun finds the manifest).

    Made by our phantoms command in a child process: the generator spawns its own
    process pool, which must not start from inside a Celery pool process.
    """
    return make_phantoms(task, n, seed, _inside_var(data), splits)


def make_phantoms(task: str, n: int, seed: int, out: Path, splits: dict) -> Path:
    """Phantom DICOM + manifest.csv under ``out`` by our phantoms command, once (a rerun
    finds the manifest); RuntimeError with the command's last lines when it fails."""
    manifest = out / "manifest.csv"
    if manifest.exists():
        return manifest
    spec = ",".join(f"{name}={fraction}" for name, fraction in splits.items())
    command = [sys.executable, "-m", "inference_worker", "phantoms", task, "--n", str(n)]
    command += ["--seed", str(seed), "--out", str(out), "--splits", spec]
    done = subprocess.run(command, cwd=settings.REPO, capture_output=True, text=True)
    if done.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"making {task} phantoms failed:\n{(done.stderr or done.stdout)[-2000:]}")
    return manifest


def models_present(task: str, models: Path | None = None) -> bool:
    return any(((models or settings.models_dir()) / task).glob("*/*/card.json"))


def run_training(*, task: str, n: int, seed: int, data: str, splits: dict, quick: bool, report=None) -> dict:
    """Phantoms, then our training command, with progress in the task's progress file.

    A plain function (the Celery task and tests call it). Raises RuntimeError with the
    command's last lines when training fails; the progress file then says "failed".
    """
    recipe = "quick" if quick else "full"
    started = time.time()
    state = {"state": "running", "recipe": recipe, "started": started, "finished": None, "error": ""}
    if models_present(task):
        return write_progress(
            task, **{**state, "state": "done", "stage": "models already trained", "finished": started}
        )
    write_progress(task, **state, stage=f"making {n} training phantoms", step=None, steps=None)
    try:
        manifest = ensure_phantoms(task, n, seed, data, splits)
    except (RuntimeError, ValueError, OSError) as exc:
        write_progress(task, state="failed", error=str(exc)[-2000:], finished=time.time())
        raise RuntimeError(str(exc)) from exc
    # Trained into a staging folder and moved into the models folder only when the whole
    # pipeline succeeded: a failed run must not leave half a model set that looks trained.
    staging = _inside_var(f"demo/training/staging/{task}")
    shutil.rmtree(staging, ignore_errors=True)
    command = [sys.executable, "-m", "inference_worker", "train", task, "--data", str(manifest)]
    command += ["--out", str(staging), "--seed", str(seed)]
    if quick:
        command.append("--quick")
    proc = subprocess.Popen(
        command,
        cwd=settings.REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    # Lines are read on a thread, so the elapsed time and the estimate keep moving
    # through long stages that print nothing.
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(raw) for raw in proc.stdout], daemon=True)
    reader.start()
    tail: list[str] = []
    stage, stage_started, step = "training", time.time(), None
    # Until the command's output is read to the end (its last lines say why it failed).
    while reader.is_alive() or not lines.empty():
        try:
            line = lines.get(timeout=1.0).strip()
        except queue.Empty:
            line = ""
        if line:
            tail = (tail + [line])[-20:]
            step = parse_step(line)
            label = STEP.split(line)[0].strip(" :") if step else line
            if label and label[0].isalpha() and len(label) < 120 and label != stage:
                stage, stage_started = label, time.time()
        now = time.time()
        fields = {
            "stage": stage,
            "step": step[0] if step else None,
            "steps": step[1] if step else None,
            "elapsed": round(now - started),
            "remaining": estimate_remaining(task, recipe, now - started, step, now - stage_started),
        }
        write_progress(task, **fields)
        if report and line:
            report(fields)
    code = proc.wait()
    finished = time.time()
    if code != 0:
        error = "\n".join(tail[-8:])
        write_progress(
            task, state="failed", error=error, finished=finished, elapsed=round(finished - started)
        )
        raise RuntimeError(f"training {task} failed (exit {code}):\n{error}")
    publish_models(staging / task, settings.models_dir() / task)
    shutil.rmtree(staging, ignore_errors=True)
    return write_progress(
        task,
        state="done",
        # The training child reads the same OSTEOLENS_DEVICE, so this is where it ran.
        device=str(devices.device()),
        stage="models saved",
        step=None,
        steps=None,
        finished=finished,
        elapsed=round(finished - started),
        remaining=0,
    )


def publish_models(source: Path, target: Path) -> None:
    """Move each trained model folder (``<name>/<version>``) into the models folder."""
    if not source.is_dir() or not any(source.glob("*/*/card.json")):
        raise RuntimeError(f"the training command saved no model under {source}")
    for model in sorted(p for p in source.iterdir() if p.is_dir()):
        for version in sorted(p for p in model.iterdir() if p.is_dir()):
            destination = target / model.name / version.name
            if destination.exists():  # the same version already published: keep it
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(version), str(destination))


@app.task(
    bind=True,
    name="inference_worker.train_demo_models",
    # Training runs for minutes to an hour: acknowledged on receipt, so Redis does not
    # hand it out again after the visibility timeout while it still runs. A lost run is
    # sent again by the next `run_demo` (models still missing).
    acks_late=False,
    max_retries=0,
)
def train_demo_models(self, *, task: str, n: int, seed: int, data: str, splits: dict, quick: bool):
    def report(fields: dict) -> None:
        self.update_state(state="PROGRESS", meta={"task": task, **fields})

    # A failure raises here; the progress page shows it from the progress file.
    result = run_training(task=task, n=n, seed=seed, data=data, splits=splits, quick=quick, report=report)
    app.send_task("demo.models_ready", kwargs={"task": task}, queue="default")
    return result
