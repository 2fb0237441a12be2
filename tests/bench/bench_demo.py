"""The newcomer's first hour: time to a logged-in library page, quick training, and a
referring doctor's second opinion while the library backfill runs.

    .venv/bin/python tests/bench/bench_demo.py --out var/bench/demo.json [--small]

From a fresh var folder (a temporary one, deleted afterwards), with the demo commands as
`make demo` runs them (package caches and the viewer bundle already in place):

1. `migrate`, `seed_demo`, `run_demo --no-train` until the junior resident sees the library
   page logged in (cold), then the same again on the same var folder (a second run);
2. `train_demo_models --quick` in the foreground: seconds per task (phantoms included);
3. `run_demo` again: the models register, the library backfill and the example second
   opinions are queued; then the referrer uploads a sacral CT and we time the request
   from upload to its finished opinion, with the number of backfill analyses still
   waiting when it was sent.

`--full-training` instead times the full demo recipe (`train_demo_models` without
--quick, on a fresh var folder): seconds per task, the device it ran on and the load.

The machine's load average is recorded with the figures: on a shared machine they move.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.integration.demo_harness import (  # noqa: E402
    RunningDemo,
    demo_env,
    login,
    manage,
    query,
    referrer_study,
)
from tests.integration.workers import wait_for  # noqa: E402


def logged_in_library(env: dict, var: Path, log: Path, *extra: str) -> tuple[dict, RunningDemo]:
    """migrate + seed_demo + run_demo until the library page is open; seconds per phase."""
    phases = {}
    started = time.monotonic()
    manage(env, "migrate", "--noinput", "-v", "0")
    phases["migrate_s"] = round(time.monotonic() - started, 1)
    mark = time.monotonic()
    manage(env, "seed_demo")
    phases["seed_s"] = round(time.monotonic() - mark, 1)
    mark = time.monotonic()
    demo = RunningDemo(env, log, *extra)
    demo.wait_until_serving()
    phases["serve_s"] = round(time.monotonic() - mark, 1)
    session = login(demo.url, "junior")
    page = session.get(f"{demo.url}/cases/", timeout=60)
    assert page.status_code == 200 and re.search(r"/cases/[0-9a-f-]{36}/", page.text), "empty library page"
    phases["total_s"] = round(time.monotonic() - started, 1)
    return phases, demo


def upload_sacral_ct(session, url: str, files: list[Path]) -> str:
    token = session.cookies["csrftoken"]
    handles = [("files", (f.name, f.read_bytes(), "application/dicom")) for f in files]
    response = session.post(
        f"{url}/opinions/new/", files=handles, headers={"X-CSRFToken": token}, timeout=120
    )
    response.raise_for_status()
    configure = response.json()["next"]
    response = session.post(
        f"{url}{configure}",
        data={"pipeline": "sacral-ct", "age": "61", "sex": "M", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}{configure}"},
        timeout=60,
    )
    return re.search(r"/opinions/([0-9a-f-]{36})/", response.url).group(1).replace("-", "")


def second_opinion_while_backfill(env: dict, var: Path, log: Path) -> tuple[dict, RunningDemo]:
    """run_demo on a var folder with trained models; the referrer's sacral CT from upload
    to finished opinion, with the library backfill (and example opinions) queued."""
    # train_demo_models queued the example opinions; the next run_demo's workers take
    # them, and the library backfill, while the referrer asks for a second opinion.
    demo = RunningDemo(env, log)
    demo.wait_until_serving()
    referrer = login(demo.url, "referrer")
    backfill = query(
        var,
        "select count(*) from opinions_analysisrequest r where r.requested_by_id is null "
        "and r.status in ('queued', 'running')",
    )[0][0]
    mark = time.monotonic()
    request_id = upload_sacral_ct(referrer, demo.url, referrer_study(var))
    wait_for(
        lambda: (
            query(var, "select status from opinions_analysisrequest where public_id = ?", request_id)
            in ([("done",)], [("failed",)])
        ),
        timeout=600,
        what="the referrer's second opinion",
    )
    status = query(var, "select status from opinions_analysisrequest where public_id = ?", request_id)
    return {
        "status": status[0][0],
        "upload_to_done_s": round(time.monotonic() - mark, 1),
        "backfill_waiting_at_upload": backfill,
        "backfill_waiting_at_done": query(
            var,
            "select count(*) from opinions_analysisrequest where requested_by_id is null "
            "and status in ('queued', 'running')",
        )[0][0],
    }, demo


def training_seconds(var: Path) -> dict:
    """Per task: seconds and device, from the progress files the training writes."""
    figures = {}
    for path in sorted((var / "demo" / "training").glob("*.json")):
        progress = json.loads(path.read_text())
        figures[progress["task"]] = {"elapsed_s": progress["elapsed"], "device": progress.get("device")}
    return figures


def full_training(results: dict) -> None:
    """The full demo recipe, all three tasks, in the foreground on a fresh var folder."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-demo-full-"))
    var = tmp / "var"
    env = demo_env(var, small=False, quick=False)
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        mark = time.monotonic()
        manage(env, "train_demo_models", timeout=4 * 3600)
        results["full_training_total_s"] = round(time.monotonic() - mark, 1)
        results["full_training"] = training_seconds(var)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench/demo.json"))
    parser.add_argument("--small", action="store_true", help="the small library (as the CI test)")
    parser.add_argument(
        "--opinion-only",
        type=Path,
        metavar="VAR",
        help="only step 3, on an existing demo var folder with quick-trained models",
    )
    parser.add_argument(
        "--full-training", action="store_true", help="only time the full demo training recipe"
    )
    args = parser.parse_args()

    results: dict = {"cpus": os.cpu_count(), "load_before": os.getloadavg(), "small": args.small}
    if args.full_training:
        full_training(results)
        results["load_after"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
        print(json.dumps(results, indent=1))
        return
    if args.opinion_only:
        env = demo_env(args.opinion_only.resolve(), small=args.small, quick=True)
        opinion, demo = second_opinion_while_backfill(
            env, args.opinion_only.resolve(), Path(tempfile.mktemp())
        )
        demo.stop()
        results["second_opinion"] = opinion
        results["load_after"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
        print(json.dumps(results, indent=1))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    var = tmp / "var"
    env = demo_env(var, small=args.small, quick=True)
    demo = None
    try:
        phases, demo = logged_in_library(env, var, tmp / "run1.log", "--no-train")
        results["first_run"] = phases
        demo.stop()
        phases, demo = logged_in_library(env, var, tmp / "run2.log", "--no-train")
        results["second_run"] = phases
        demo.stop()
        print(json.dumps({k: results[k] for k in ("first_run", "second_run")}), flush=True)

        mark = time.monotonic()
        manage(env, "train_demo_models", "--quick", timeout=1800)
        results["quick_training_total_s"] = round(time.monotonic() - mark, 1)
        results["quick_training_s"] = training_seconds(var)
        print(json.dumps({"quick_training_s": results["quick_training_s"]}), flush=True)
        results["second_opinion"], demo = second_opinion_while_backfill(env, var, tmp / "run3.log")
    finally:
        if demo is not None:
            demo.stop()
        results["load_after"] = os.getloadavg()
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
