"""The demo commands end to end, as a newcomer runs them (small library, quick recipe):
migrate, seed_demo, run_demo (web server, both workers, beat, background training);
every demo user logs in and opens the main pages from the first minute; the models
train in the background and register; each task gets its example second opinion; a
referring doctor uploads a sacral CT and gets a second opinion; a second seed is a no-op.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.demo_harness import (
    RunningDemo,
    demo_env,
    login,
    manage,
    query,
    referrer_study,
)
from tests.integration.workers import wait_for

# Minutes on a quiet machine; a shared 2-core one can take three times as long.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

TASKS = ("sacral-ct", "bone-xray", "spine-xray")


def _pages(session, url: str, paths: list[str]) -> dict[str, str]:
    pages = {}
    for path in paths:
        response = session.get(f"{url}{path}", timeout=60)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        pages[path] = response.text
    return pages


def _upload_sacral_ct(session, url: str, files) -> str:
    token = session.cookies["csrftoken"]
    handles = [("files", (f.name, f.read_bytes(), "application/dicom")) for f in files]
    response = session.post(
        f"{url}/opinions/new/", files=handles, headers={"X-CSRFToken": token, "Referer": url}, timeout=120
    )
    assert response.status_code == 200, response.text[:500]
    configure = response.json()["next"]
    response = session.post(
        f"{url}{configure}",
        data={"pipeline": "sacral-ct", "age": "61", "sex": "M", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}{configure}"},
        timeout=60,
    )
    assert response.status_code == 200, response.status_code
    match = re.search(r"/opinions/([0-9a-f-]{36})/", response.url)
    assert match, response.url
    return match.group(1)


def test_demo_commands_end_to_end(tmp_path):
    var = tmp_path / "var"
    env = demo_env(var)
    manage(env, "migrate", "--noinput", "-v", "0")
    seeded = manage(env, "seed_demo").stdout
    assert "demo-sacral-ct: imported 3 cases" in seeded
    assert "3 set(s)" in seeded

    demo = RunningDemo(env, tmp_path / "run_demo.log")
    try:
        demo.wait_until_serving()
        url = demo.url
        # From the first minute: library, viewer, teaching with its history, dashboards.
        junior = login(url, "junior")
        library = _pages(junior, url, ["/cases/"])["/cases/"]
        case_ids = re.findall(r"/cases/([0-9a-f-]{36})/", library)
        assert len(set(case_ids)) >= 3, "the library lists no cases"
        teaching = _pages(junior, url, ["/teaching/", "/teaching/me/", "/teaching/daily/"])
        assert "Demo quiz: sacral tumours on CT" in teaching["/teaching/"]
        assert "Demo assisted-reading study" in teaching["/teaching/"]
        _pages(junior, url, [f"/cases/{case_ids[0]}/", f"/viewer/case/{case_ids[0]}/"])
        for resident in ("middle", "senior"):
            _pages(login(url, resident), url, ["/cases/", "/teaching/", "/teaching/me/"])

        admin = login(url, "admin")
        progress = _pages(admin, url, ["/demo/training/", "/teaching/cohort/", "/admin/"])["/demo/training/"]
        assert "demo-bone-xray" in progress
        assert re.search(r'data-task="sacral-ct" data-state="(queued|running|ready)"', progress)

        referrer = login(url, "referrer")
        form = _pages(referrer, url, ["/opinions/new/"])["/opinions/new/"]
        assert "Models still training" in form
        # A resident may not open the training page.
        assert junior.get(f"{url}/demo/training/", timeout=30).status_code == 403

        # The models train in the background; each pipeline registers when its training
        # ends and queues the referrer's example second opinion, which then finishes.
        def examples_done():
            rows = query(
                var,
                "select r.pipeline, r.status from opinions_analysisrequest r "
                "join accounts_user u on u.id = r.requested_by_id where u.username = 'referrer'",
            )
            failed = [row for row in rows if row[1] == "failed"]
            assert not failed, f"example second opinion failed: {failed}"
            return {p for p, s in rows if s == "done"} == set(TASKS)

        wait_for(examples_done, timeout=900, what="an example second opinion per task", interval=3)
        form = _pages(referrer, url, ["/opinions/new/"])["/opinions/new/"]
        assert "Models still training" not in form
        progress = _pages(admin, url, ["/demo/training/"])["/demo/training/"]
        assert progress.count('data-state="ready"') == 3
        assert "synthetic phantoms" in progress

        # A referring doctor's own sacral CT, while the library backfill is queued.
        request_id = _upload_sacral_ct(referrer, url, referrer_study(var))
        wait_for(
            lambda: (
                query(
                    var,
                    "select status from opinions_analysisrequest where public_id = ?",
                    request_id.replace("-", ""),
                )
                in ([("done",)], [("failed",)])
            ),
            timeout=300,
            what="the referrer's second opinion",
            interval=2,
        )
        detail = _pages(referrer, url, [f"/opinions/{request_id}/"])[f"/opinions/{request_id}/"]
        assert "synthetic phantoms" in detail
        assert query(
            var,
            "select status from opinions_analysisrequest where public_id = ?",
            request_id.replace("-", ""),
        ) == [("done",)]
    finally:
        demo.stop()

    # A second run reuses everything: nothing seeded, nothing trained again.
    again = manage(env, "seed_demo").stdout
    assert "already imported" in again and "making" not in again
    assert "training queued: nothing missing" in manage(env, "train_demo_models", "--background").stdout
