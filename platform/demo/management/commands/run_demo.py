"""Run the whole platform on one machine: web server, inference worker, bookkeeping worker
with Celery beat; the demo models train in the background on the inference worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import services, training
from demo.services import DEMO_PASSWORD, DEMO_USERS
from inference_worker.settings import INFERENCE_QUEUES


def process_commands(host: str, port: str) -> dict[str, list[str]]:
    celery = [sys.executable, "-m", "celery"]
    common = ["-c", "1", "-l", "WARNING"]
    schedule = str(settings.VAR_DIR / "celerybeat-schedule")
    return {
        # One process serves requests first, then demo training, then library backfill
        # (inference_worker/queues.py); the device is chosen by the worker (CUDA if present).
        "inference worker": celery
        + ["-A", "inference_worker.celery_app", "worker", "-Q", ",".join(INFERENCE_QUEUES)]
        + common
        + ["-n", "gpu@%h"],
        # -B: the periodic tasks of config.celery's beat_schedule, schedule kept under var/.
        "bookkeeping worker": celery
        + ["-A", "config.celery", "worker", "-Q", "default", "-B", "-s", schedule]
        + common
        + ["-n", "default@%h"],
        # The checks ran in this process already (and migrate ran them before it).
        "web server": [
            sys.executable,
            "manage.py",
            "runserver",
            f"{host}:{port}",
            "--noreload",
            "--skip-checks",
        ],
    }


class Command(BaseCommand):
    help = (
        "Start the web server, both Celery workers and beat on the embedded defaults, and "
        "train the missing demo models in the background; Ctrl-C stops all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument(
            "--quick",
            action="store_true",
            help=f"train missing models with the quick recipe; also {services.QUICK_ENV}=1",
        )
        parser.add_argument("--no-train", action="store_true", help="do not queue any training")

    def prepare(self, host: str, port: str, *, quick: bool, train: bool) -> None:
        """Register earlier models, queue backfill and training, print the logins. A
        problem here is reported, and the site keeps running: it serves without models."""
        try:
            # Models trained by an earlier run: registered now (a no-op when they are), and
            # library cases still without a current opinion (a run stopped mid-backfill)
            # queued again on the backfill queue.
            for task in services.TASKS:
                if not services.models_missing(task):
                    training.models_ready(task, log=self.stdout.write)
            if settings.TEACHING_AUTO_ANALYSE:
                from teaching.services import analyse_library

                if queued := analyse_library():
                    self.stdout.write(f"library backfill: {len(queued)} analyses queued")
            if train:
                # The inference worker just started: a run marked "running" was cut short.
                queued = training.queue_training(quick=quick, log=self.stdout.write, fresh_worker=True)
                if queued:
                    self.stdout.write(
                        f"training in the background ({'quick' if quick else 'full'} recipe): "
                        f"{', '.join(queued)}; progress at http://{host}:{port}/demo/training/"
                    )
        except Exception as exc:  # the demo still serves the library and teaching
            self.stderr.write(f"demo set-up problem (the site keeps running): {type(exc).__name__}: {exc}")
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nOsteoLens demo running at {url}"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, seniority in DEMO_USERS:
            self.stdout.write(f"  {username:10s} {role.label}{f' ({seniority})' if seniority else ''}")
        self.stdout.write(
            "Models shown in the demo were trained on synthetic phantoms. Ctrl-C stops everything.\n"
        )
        self.stdout.flush()

    def handle(self, *args, host, port, quick, no_train, **options):
        try:
            quick = quick or services.quick_from_env()
        except services.DemoError as exc:
            raise CommandError(str(exc)) from exc
        root = settings.BASE_DIR
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(root / "platform")]))
        processes = {}
        # Each in its own process group, so stopping one also stops what it started (the
        # worker's pool and a training run). SIGTERM stops the demo like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        for name, command in process_commands(host, port).items():
            processes[name] = subprocess.Popen(command, cwd=root, env=env, start_new_session=True)
        try:
            self.prepare(host, port, quick=quick, train=not no_train)
            while all(p.poll() is None for p in processes.values()):
                time.sleep(1)
            failed = [n for n, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"stopped: {', '.join(failed)} exited")
        except KeyboardInterrupt:
            pass
        finally:
            stop(processes.values())


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def stop(processes, grace: float = 15) -> None:
    """SIGTERM every process group (Celery's warm shutdown), SIGKILL what is left after ``grace``."""
    for p in processes:
        if p.poll() is None:
            _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        # The group may outlive its leader (a pool child, a training command).
        _signal_group(p, signal.SIGKILL)
        p.wait()


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
