"""Run the demo commands as a newcomer would, in a var folder of their own, and browse it
over HTTP. Shared by tests/integration/test_demo_commands.py and tests/bench/bench_demo.py.

The commands run on the embedded defaults (SQLite, filesystem broker, storage under the
var folder) whatever the calling environment names, as `make demo` on a fresh machine.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "osteolens-demo"
# Settings the embedded demo must not inherit from CI or a developer's shell.
NOT_INHERITED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "CACHE_URL",
    "MEDIA_ROOT",
    "MODELS_DIR",
    "DJANGO_SETTINGS_MODULE",
)


def demo_env(var: Path, *, small: bool = True, quick: bool = True) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(OSTEOLENS_VAR_DIR=str(var), PYTHONUNBUFFERED="1")
    if small:
        env["OSTEOLENS_DEMO_SIZE"] = "small"
    if quick:
        env["OSTEOLENS_DEMO_QUICK"] = "1"
    return env


def manage(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningDemo:
    """`manage.py run_demo` in its own process group; stop() ends it like Ctrl-C."""

    def __init__(self, env: dict, log: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        handle = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_demo", "--port", str(self.port), *extra],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_serving(self, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"run_demo exited:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code < 500:
                    return time.monotonic()
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            time.sleep(0.2)
        raise AssertionError(f"the demo did not serve within {timeout:.0f}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # run_demo stops its own process groups
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def login(url: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{url}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}/accounts/login/"},
        timeout=30,
    )
    assert response.status_code == 200 and "/accounts/login/" not in response.url, f"{username} not logged in"
    return session


def query(var: Path, sql: str, *params) -> list[tuple]:
    """Read the demo's SQLite database directly (read-only)."""
    with sqlite3.connect(f"file:{var / 'osteolens.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(sql, params).fetchall()


def referrer_study(var: Path, task: str = "sacral-ct") -> list[Path]:
    """Files of a training-phantom study the demo has not stored yet (the example second
    opinions use a test-split one, the library is another cohort): a validation study."""
    from inference_worker.manifest import read_manifest

    manifest = var / "demo" / "training" / "quick" / task / "manifest.csv"
    for row in read_manifest(manifest):
        if row.split == "validation":
            files = []
            for path in row.images:
                files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
            return files
    raise AssertionError(f"no validation study in {manifest}")
