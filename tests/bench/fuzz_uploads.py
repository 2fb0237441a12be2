"""Long fuzz run: thousands of mutated uploads over HTTP against gunicorn (issue 15).

Starts the site's gunicorn (platform/config/gunicorn.py) on a loopback port with its
own database, MEDIA_ROOT and upload temp dir, then posts mutated files (the mutator of
tests/platform/ingest/mutate.py, plus the penetration test's own inputs) round-robin to
the three upload endpoints, and stalls a connection on each with a declared 3 GiB
body. Reports tries, status counts, 5xx, answers without a clear message, worker exits
(gunicorn worker pids that changed), peak RSS per worker, and what was left behind
(upload temp entries, stored objects without a row, cases beyond the accepted uploads).
Bounded by --count and --minutes; results as JSON to --out.

    .venv/bin/python tests/bench/fuzz_uploads.py [--count 5000] [--minutes 25] [--out var/bench/fuzz_uploads.json]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from tests.bench._login import logged_in  # noqa: E402
from tests.bench._report import write_report  # noqa: E402
from tests.platform.ingest import hostile, mutate  # noqa: E402

PASSWORD = "fuzz-password-not-secret-123"
ENDPOINTS = hostile.ENDPOINTS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def workers_of(master: int) -> set[int]:
    pids = set()
    try:
        for task in Path(f"/proc/{master}/task").iterdir():
            pids.update(int(c) for c in (task / "children").read_text().split())
    except OSError:
        pass
    return pids


def peak_rss_mb(pid: int) -> float | None:
    try:
        match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return int(match.group(1)) / 1024 if match else None


def stalled_connection_seconds(port: int, path: str, cookies: str, token: str | None) -> tuple[float, str]:
    """Declare a 3 GiB body, send none of it: how long until the server answers."""
    auth = f"Authorization: Token {token}\r\n" if token else f"Cookie: {cookies}\r\n"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Accept: application/json\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {3 * 1024**3}\r\n\r\n"
    )
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request.encode())
        try:
            head = sock.recv(200).decode("latin-1").split("\r\n", 1)[0]
        except TimeoutError:
            head = "timeout"
    return time.perf_counter() - started, head


def manage(env: dict, *args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=env, cwd=REPO, check=True, capture_output=capture, text=True,
    )  # fmt: skip
    return done.stdout if capture else ""


def leftovers(env: dict, var: Path) -> dict:
    script = (
        "import json; from pathlib import Path; from django.conf import settings; "
        "from cases.models import Case, Instance; "
        "root = Path(settings.MEDIA_ROOT); "
        "objs = {p.relative_to(root).as_posix() for p in (root / 'objects').rglob('*') if p.is_file()}; "
        "rows = set(Instance.objects.values_list('path', flat=True)); "
        "print(json.dumps({'cases': Case.objects.count(), 'instances': len(rows), "
        "'orphan_objects': len(objs - rows), 'missing_objects': len(rows - objs)}))"
    )
    import json

    counts = json.loads(manage(env, "shell", "-c", script, capture=True).strip().splitlines()[-1])
    temp = var / "tmp" / "uploads"
    counts["upload_temp_entries"] = len(list(temp.iterdir())) if temp.is_dir() else 0
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "var" / "bench" / "fuzz_uploads.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fuzz-uploads-"))
    var = work / "var"
    env = dict(os.environ, OSTEOLENS_VAR_DIR=str(var), DEBUG="0", LOG_LEVEL="WARNING")
    env.pop("DATABASE_URL", None)  # a SQLite database of its own, in `work`
    env.pop("UPLOAD_TEMP_DIR", None)
    env.pop("MEDIA_ROOT", None)
    server = None
    try:
        manage(env, "migrate", "-v0")
        token = manage(
            env, "shell", "-c",
            "from accounts.models import User, Role; from rest_framework.authtoken.models import Token; "
            f"u = User.objects.create_user('fuzzdoc', password='{PASSWORD}', role=Role.REFERRER); "
            "print(Token.objects.create(user=u).key)",
            capture=True,
        ).strip().splitlines()[-1]  # fmt: skip
        port = free_port()
        command = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application",
                   "--chdir", str(REPO / "platform"), "--config", str(REPO / "platform" / "config" / "gunicorn.py"),
                   "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), "--timeout", "120"]  # fmt: skip
        log = (work / "gunicorn.log").open("wb")
        server = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        session = logged_in(base, "fuzzdoc", PASSWORD, attempts=600)
        session.get(f"{base}/ingest/")
        browser = {"X-CSRFToken": session.cookies["csrftoken"], "Accept": "application/json"}
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        time.sleep(1.0)
        initial_workers = workers_of(server.pid)
        seen_workers = set(initial_workers)
        peak: dict[int, float] = {}

        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())

        def stalls() -> dict:
            found = {}
            for name, path in ENDPOINTS.items():
                seconds, head = stalled_connection_seconds(
                    port, path, cookie, token if name == "api" else None
                )
                found[name] = {"seconds": round(seconds, 3), "answer": head}
            return found

        # Cold (a worker's first request imports the upload stack) and again at the end.
        stalls_cold = stalls()

        # The penetration test's own inputs first, then the mutator.
        specials = [
            ("mr-rle.dcm", hostile.corrupted_rle(), "corrupted RLE (decoder panic)"),
            ("bomb.nii.gz", hostile.nifti_header_only_bomb(), "NIfTI header declaring 64 GiB"),
            ("ct.nii.gz", hostile.nifti_gz((512, 512, 300)), "gzipped NIfTI of 150 MiB zeros"),
            ("scans.zip", hostile.small_entry_bomb(1900), "1,900 x 1 MiB zip entries"),
            ("IM0", hostile.huge_is_numbers(), "IS 9e99"),
            ("odd-syntax.dcm", hostile.bogus_transfer_syntax(), "unknown transfer syntax"),
            ("odd-rows.dcm", hostile.odd_length_rows(), "odd-length US"),
            ("SC_rgb_jpeg.dcm", hostile.pydicom_file("SC_rgb_jpeg.dcm"), "pydicom SC_rgb_jpeg.dcm"),
        ]
        corpus = mutate.seeds(REPO / "tests" / "data" / "real")
        rng = random.Random(args.seed)
        statuses: dict[str, Counter] = {name: Counter() for name in ENDPOINTS}
        server_errors, unclear, accepted, slowest = [], [], 0, (0.0, "")
        names = list(ENDPOINTS)
        deadline = time.monotonic() + args.minutes * 60
        started = time.perf_counter()
        tries = 0
        while tries < args.count and time.monotonic() < deadline:
            endpoint = names[tries % 3]
            if tries < len(specials) * 3:
                name, data, what = specials[tries // 3]
            else:
                mutant = mutate.mutate(rng, corpus)
                name, data, what = mutant.name, mutant.data, "; ".join(mutant.steps)
            url = base + ENDPOINTS[endpoint]
            t = time.perf_counter()
            try:
                if endpoint == "api":
                    response = api.post(url, files=[("files", (name, data))], timeout=120)
                else:
                    response = session.post(
                        url, files=[("files", (name, data))], headers=browser, timeout=120
                    )
                status, body = response.status_code, response.text
            except requests.RequestException as exc:  # a dropped connection: a worker died
                status, body = 599, f"{type(exc).__name__}: {exc}"
            took = time.perf_counter() - t
            if took > slowest[0]:
                slowest = (took, f"{endpoint}: {what}"[:200])
            tries += 1
            statuses[endpoint][status] += 1
            if status >= 500 or "Traceback" in body:
                server_errors.append(
                    {"endpoint": endpoint, "status": status, "input": what[:200], "body": body[:200]}
                )
            elif status >= 400:
                try:
                    message = response.json().get("error")
                except ValueError:
                    message = None
                if not (isinstance(message, str) and len(message) > 10):
                    unclear.append(
                        {"endpoint": endpoint, "status": status, "input": what[:200], "body": body[:200]}
                    )
            else:
                accepted += 1
            current = workers_of(server.pid)
            seen_workers |= current
            for pid in current:
                rss = peak_rss_mb(pid)
                if rss is not None:
                    peak[pid] = max(peak.get(pid, 0.0), rss)
            if tries % 250 == 0:
                print(
                    f"{tries} tries, {time.perf_counter() - started:.0f}s, 5xx {len(server_errors)}",
                    flush=True,
                )
        elapsed = time.perf_counter() - started
        stalls_warm = stalls()
        final_workers = workers_of(server.pid)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server = None
        left = leftovers(env, var)
        report = {
            "benchmark": "fuzzed uploads over HTTP against gunicorn (issue 15)",
            "tries": tries,
            "seconds": round(elapsed, 1),
            "uploads_per_s": round(tries / elapsed, 2),
            "seed": args.seed,
            "gunicorn_workers": args.workers,
            "status_counts": {k: dict(sorted(v.items())) for k, v in statuses.items()},
            "accepted": accepted,
            "server_errors_5xx": len(server_errors),
            "server_error_examples": server_errors[:20],
            "refusals_without_clear_message": len(unclear),
            "unclear_examples": unclear[:10],
            "worker_exits": len(seen_workers - final_workers),
            "worker_pids_seen": len(seen_workers),
            "peak_rss_mb_per_worker": {str(pid): round(mb, 1) for pid, mb in sorted(peak.items())},
            "peak_rss_mb_max": round(max(peak.values(), default=0.0), 1),
            "rss_target_mb": 500,
            "slowest_upload": {"seconds": round(slowest[0], 2), "input": slowest[1]},
            "stalled_3gib_declared": {"cold": stalls_cold, "warm": stalls_warm},
            "leftovers": {
                **left,
                "cases_beyond_accepted": left["cases"] - accepted,
            },
            "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_report(report, args.out)
        return 0
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
