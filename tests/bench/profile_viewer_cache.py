"""Where the CPU goes while the viewer caches a 500-slice CT: a Chromium trace, summed per thread.

    .venv/bin/python tests/bench/profile_viewer_cache.py [--out var/bench/viewer_cache_profile.json]

Same site as bench_viewer_browser.py (gunicorn, whitenoise, WADO-URI with a login). One
cold visit of the 500-slice case is traced (Playwright's browser.start_tracing) from
navigation until every slice is cached. For each browser thread the trace's top-level
tasks are summed: wall time (`dur`) and the thread's own CPU time (`tdur`), so the main
thread, the decode web workers, the network service and the compositor can be compared;
the server's CPU for the same visit comes from /proc. A diagnostic, not a benchmark: it
prints where to look, the benchmark says how fast it is.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench import _viewer_site as site  # noqa: E402
from tests.browser.harness_server import WAIT_READY, ensure_bundle, launch, state  # noqa: E402

# Top-level task events: one per task a thread ran, with thread CPU time (tdur).
TASK_NAMES = {"ThreadControllerImpl::RunTask", "ThreadPool_RunTask", "RunTask"}
CATEGORIES = "toplevel,disabled-by-default-devtools.timeline,devtools.timeline,v8.execute,blink.user_timing"


def summarise(trace: dict) -> list[dict]:
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    names, pnames = {}, {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
        if e.get("ph") == "M" and e.get("name") == "process_name":
            pnames[e["pid"]] = e["args"]["name"]
    wall, cpu, count = defaultdict(float), defaultdict(float), defaultdict(int)
    for e in events:
        if e.get("ph") == "X" and e.get("name") in TASK_NAMES:
            key = (pnames.get(e["pid"], str(e["pid"])), names.get((e["pid"], e["tid"]), str(e["tid"])))
            wall[key] += e.get("dur", 0) / 1000
            cpu[key] += e.get("tdur", 0) / 1000
            count[key] += 1
    rows = [
        {
            "process": p,
            "thread": t,
            "tasks": count[(p, t)],
            "wall_ms": round(wall[(p, t)]),
            "cpu_ms": round(cpu[(p, t)]),
        }
        for p, t in wall
    ]
    return sorted(rows, key=lambda r: -r["cpu_ms"])


def top_functions(trace: dict, thread_name: str = "CrRendererMain", limit: int = 15) -> list[dict]:
    """The main thread's heaviest named trace events below the task level (self time not split)."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    tids = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e.get("args", {}).get("name") == thread_name
    }
    totals, counts = defaultdict(float), defaultdict(int)
    for e in events:
        if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in tids and e.get("name") not in TASK_NAMES:
            totals[e["name"]] += e.get("dur", 0) / 1000
            counts[e["name"]] += 1
    top = sorted(totals, key=lambda n: -totals[n])[:limit]
    return [{"event": n, "count": counts[n], "wall_ms": round(totals[n])} for n in top]


def run(out: Path) -> dict:
    from django.conf import settings
    from django.urls import reverse
    from playwright.sync_api import sync_playwright

    from viewer.dicomjson import ensure_cached

    ensure_bundle()
    series = site.make_series(500, source="native", size=128)
    ensure_cached(list(series.instances.all()))
    cookie = site.admin_session()
    server = site.Server(workers=2, threads=4)
    url = server.url + reverse("viewer:case", args=[series.study.case.public_id])
    trace_path = out.with_suffix(".trace.json")
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
            page = context.new_page()
            # Warm-up (Chromium's own first start), then a fresh profile for the traced visit.
            page.goto(url)
            page.wait_for_function(WAIT_READY, timeout=60000)
            context.close()
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
            page = context.new_page()
            load = os.getloadavg()[0]
            server_before = server.cpu_seconds()
            browser.start_tracing(page=page, path=str(trace_path), categories=CATEGORIES.split(","))
            page.goto(url)
            page.wait_for_function(
                "() => window.osteolensViewer && (window.osteolensViewer.cacheMs !== null || window.osteolensViewer.errors.length)",
                timeout=120000,
            )
            browser.stop_tracing()
            server_cpu = server.cpu_seconds() - server_before
            s = state(page)
            browser.close()
    finally:
        server.close()
    trace = json.loads(trace_path.read_text())
    return {
        "what": "one cold visit of the 500-slice CT, traced: browser threads' top-level tasks and the server's CPU",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1m": round(load, 2),
        "first_live_render_ms": s["firstImageMs"],
        "cache_ms": s["cacheMs"],
        "cached": s["cached"],
        "server_cpu_ms": round(1000 * server_cpu),
        "threads": summarise(trace)[:20],
        "main_thread_events": top_functions(trace),
        "trace_file": str(trace_path),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "viewer_cache_profile.json")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with site.workdir() as tmp:
        site.setup_django(Path(tmp))
        report = run(args.out)
    args.out.write_text(json.dumps(report, indent=1))
    print(
        json.dumps(
            {k: report[k] for k in ("load_average_1m", "cache_ms", "server_cpu_ms", "threads")}, indent=1
        )
    )
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
