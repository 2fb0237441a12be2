"""Shared set-up of the viewer benchmarks: a throw-away site with its own data and server.

Everything lives in a temporary folder (MEDIA_ROOT, SQLite database, secret key) unless
DATABASE_URL is set; the server is gunicorn with the site's settings (platform/config/gunicorn.py:
gthread workers, connections kept alive) on a free loopback port.
"""

from __future__ import annotations

import copy
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONFIG = REPO / "platform" / "config" / "gunicorn.py"
REAL_J2K = REPO / "tests" / "data" / "real" / "ct_dicom_series_j2k"


def setup_django(workdir: Path) -> None:
    os.environ["OSTEOLENS_VAR_DIR"] = str(workdir / "var")
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    for path in (REPO, REPO / "platform"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def admin_session() -> str:
    """A logged-in admin's session cookie value."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import Role, User

    user = User.objects.create_user(username=f"bench-{os.getpid()}-{time.time_ns()}", role=Role.ADMIN)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def _save(ds) -> tuple[str, str, int]:
    import io

    from django.conf import settings

    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    relative = f"objects/{sha[:2]}/{sha}.dcm"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return sha, relative, len(data)


def make_series(count: int, *, source: str = "real-j2k", size: int = 512):
    """A case with one CT series of `count` slices.

    source="real-j2k": the real 20-slice JPEG 2000 series repeated (full scanner
    headers, ~150 KB files); source="native": size x size int16 uncompressed (512: ~525 KB).
    """
    import numpy as np
    import pydicom
    from pydicom.uid import generate_uid

    from cases.models import Case, Instance, Series, Study

    if source == "real-j2k":
        templates = [pydicom.dcmread(p) for p in sorted(REAL_J2K.iterdir())]
    else:
        from tests.platform.factories import ct_slice

        yy, xx = np.mgrid[:size, :size]
        c = size / 2
        templates = [ct_slice(np.where((yy - c) ** 2 + (xx - c) ** 2 < (0.3 * size) ** 2, 1000, -900))]
    case = Case.objects.create(label=f"bench-{time.time_ns()}", task="sacral-ct", in_library=True)
    study = Study.objects.create(case=case, study_uid=generate_uid())
    series = Series.objects.create(study=study, series_uid=generate_uid(), modality="CT", number=1)
    rows = []
    for k in range(count):
        ds = copy.deepcopy(templates[k % len(templates)])
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study.study_uid, series.series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, -3.0 * k]
        sha, relative, size = _save(ds)
        rows.append(
            Instance(
                series=series,
                sop_uid=ds.SOPInstanceUID,
                sop_class_uid=ds.SOPClassUID,
                transfer_syntax=str(ds.file_meta.TransferSyntaxUID),
                instance_number=k + 1,
                slice_location=-3.0 * k,
                rows=int(ds.Rows),
                columns=int(ds.Columns),
                sha256=sha,
                path=relative,
                size=size,
            )
        )
    Instance.objects.bulk_create(rows)
    return series


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time used so far by `root` and every live descendant (Linux /proc).

    Threads are counted through their process; processes that already exited are not.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(p) for p in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving the site from this process's environment."""

    def __init__(self, *, workers: int = 2, threads: int = 4):
        self.port = free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        if not gunicorn.exists():
            raise SystemExit("gunicorn is not installed: .venv/bin/pip install gunicorn==27.0.1")
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                # The site's own server settings (gthread, keep-alive, sendfile), so the
                # benchmark measures what is deployed; workers and threads may be varied.
                "--config", str(GUNICORN_CONFIG),
                "--chdir", str(REPO),
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(workers),
                "--threads", str(threads),
                "--log-level", "warning",
                "config.wsgi:application",
            ],
            env=dict(os.environ),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise SystemExit("the server did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server's processes (Linux /proc)."""
        return tree_cpu_seconds(self.process.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def write_report(path: Path, report: dict, summary_keys: tuple[str, ...]) -> None:
    """Write `report` as JSON, keeping a short history of earlier runs' headline figures.

    The machine is shared, so one figure means little: the history (with each run's load
    average and git commit) shows before and after an optimisation side by side.
    """
    history = []
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except ValueError:
            previous = {}
        history = previous.get("previous_runs", [])
        if previous:
            history.append({k: previous.get(k) for k in ("when", "commit", *summary_keys)})
    report["commit"] = _commit()
    report["previous_runs"] = history[-10:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
    except OSError:
        return "unknown"
    return out.stdout.strip() + ("+changes" if dirty else "")


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="osteolens-bench-")
