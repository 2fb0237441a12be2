"""WADO-URI throughput: whole DICOM files per second over kept-alive loopback connections.

    .venv/bin/python tests/bench/bench_wado.py --out var/bench/wado.json

Builds a throw-away site (temp MEDIA_ROOT and SQLite unless DATABASE_URL is set), starts
gunicorn (gthread, keep-alive), logs in an admin by session cookie, then fetches
--requests files round-robin over --files distinct instances, with wrk when it is
installed (apt-get install wrk) or Python http.client threads otherwise. Target: >= 600
files/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform as host_platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench import _viewer_site as _common  # noqa: E402

WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Cookie"] = "sessionid=%s"})
end
"""


def run_wrk(
    url: str, paths: list[str], cookie: str, *, connections: int, seconds: float, folder: Path
) -> dict:
    script = folder / "wado.lua"
    script.write_text(WRK_SCRIPT % (",".join(f'"{p}"' for p in paths), cookie))
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{round(seconds)}s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"client": "wrk", "requests": requests, "files_per_s": rate, "errors": int(non2xx.group(1)) if non2xx else 0,
            "raw": out}  # fmt: skip


def run_python(port: int, paths: list[str], cookie: str, *, connections: int, total: int) -> dict:
    counter = iter(range(total))
    lock = threading.Lock()
    errors, done, size = [0], [0], [0]

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while True:
            with lock:
                k = next(counter, None)
            if k is None:
                return
            conn.request("GET", paths[k % len(paths)], headers={"Cookie": f"sessionid={cookie}"})
            response = conn.getresponse()
            body = response.read()
            with lock:
                done[0] += 1
                size[0] += len(body)
                errors[0] += response.status != 200

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"client": "python http.client", "requests": done[0], "files_per_s": done[0] / elapsed,
            "errors": errors[0], "bytes": size[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench/wado.json"))
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--source", choices=["native", "real-j2k"], default="native")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()

    with _common.workdir() as tmp:
        tmp = Path(tmp)
        _common.setup_django(tmp)
        series = _common.make_series(args.files, source=args.source)
        cookie = _common.admin_session()
        from django.urls import reverse

        paths = [
            reverse("viewer:wado", args=[sop]) for sop in series.instances.values_list("sop_uid", flat=True)
        ]
        sizes = list(series.instances.values_list("size", flat=True))
        server = _common.Server(workers=args.workers, threads=args.threads)
        try:
            # Check one response, then warm each worker (imports, first connections).
            conn = http.client.HTTPConnection("127.0.0.1", server.port)
            conn.request("GET", paths[0], headers={"Cookie": f"sessionid={cookie}"})
            first = conn.getresponse()
            assert first.status == 200 and first.getheader("Content-Type") == "application/dicom", (
                first.status
            )
            first.read()
            warm = run_python(server.port, paths, cookie, connections=args.connections, total=200)
            use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
            cpu_before = server.cpu_seconds()
            if use_wrk:
                # wrk runs for a time: aim at about --requests requests from the warm-up rate.
                seconds = min(max(args.requests / max(warm["files_per_s"], 1), 3), 15)
                result = run_wrk(
                    server.url, paths, cookie, connections=args.connections, seconds=seconds, folder=tmp
                )
            else:
                result = run_python(
                    server.port, paths, cookie, connections=args.connections, total=args.requests
                )
            server_cpu = server.cpu_seconds() - cpu_before
        finally:
            server.close()
    report = {
        "benchmark": "wado-uri whole-file throughput, keep-alive, loopback",
        "target_files_per_s": 600,
        "files_per_s": round(result["files_per_s"], 1),
        "requests": result["requests"],
        # Load-independent view: server CPU per file, and what the machine's cores could
        # serve if the server had them to itself (the client's own CPU not counted).
        "server_cpu_ms_per_file": round(1000 * server_cpu / max(result["requests"], 1), 2),
        "capacity_files_per_s_all_cores": round(
            (__import__("os").cpu_count() or 1) * max(result["requests"], 1) / max(server_cpu, 1e-9), 1
        ),
        "errors": result["errors"],
        "client": result["client"],
        "connections": args.connections,
        "server": f"gunicorn (platform/config/gunicorn.py), {args.workers} workers x {args.threads} threads",
        "distinct_files": args.files,
        "mean_file_bytes": round(sum(sizes) / len(sizes)),
        "source": args.source,
        "database": "postgresql"
        if "postgres" in __import__("os").environ.get("DATABASE_URL", "")
        else "sqlite",
        "cpus": __import__("os").cpu_count(),
        # Other work on the machine skews the figure: keep the load with it.
        "load_average_1m": round(__import__("os").getloadavg()[0], 2),
        "python": host_platform.python_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if "raw" in result:
        report["wrk_output"] = result["raw"]
    _common.write_report(
        args.out, report, ("files_per_s", "server_cpu_ms_per_file", "server", "load_average_1m")
    )
    print(json.dumps({k: v for k, v in report.items() if k != "wrk_output"}, indent=1))


if __name__ == "__main__":
    main()
