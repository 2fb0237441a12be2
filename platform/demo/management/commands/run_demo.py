"""Run the whole platform on one machine: web server, inference worker, bookkeeping worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from demo.services import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Start the web server and both Celery workers on the embedded defaults; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        root = settings.BASE_DIR
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(root / "platform")]))
        celery = [sys.executable, "-m", "celery"]
        commands = {
            "inference worker": celery
            + [
                "-A",
                "inference_worker.celery_app",
                "worker",
                "-Q",
                "gpu",
                "-c",
                "1",
                "-l",
                "WARNING",
                "-n",
                "gpu@%h",
            ],
            "bookkeeping worker": celery
            + [
                "-A",
                "config.celery",
                "worker",
                "-Q",
                "default",
                "-c",
                "1",
                "-l",
                "WARNING",
                "-n",
                "default@%h",
            ],
            "web server": [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        }
        processes = {}
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, cwd=root, env=env)
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nOsteoLens demo running at {url}"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, seniority in DEMO_USERS:
            self.stdout.write(f"  {username:10s} {role.label}{f' ({seniority})' if seniority else ''}")
        self.stdout.write(
            "Models shown in the demo were trained on synthetic phantoms. Ctrl-C stops everything.\n"
        )
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(1)
            failed = [n for n, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"stopped: {', '.join(failed)} exited")
        except KeyboardInterrupt:
            pass
        finally:
            for p in processes.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes.values():
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
