"""The whole second-opinion flow in real Chromium, on a real broker and real workers.

A referring doctor logs in through the login form, uploads a phantom study through the
upload form, starts the analysis, watches the progress bar move without reloading the
page while the real inference worker (started only once the page is watching) runs our
pipeline with the tiny models our own training command made (the `tiny_models` session
fixture the integration tests share), lands on the result page, and the overlays there
are proven by pixels: on the sacral CT the segmentation labelmap and the tumour marker,
on a bone radiograph the heat-maps with their switch and opacity slider.

Tiny sacral models call phantoms out of domain (low segmentation confidence), and only
in-domain sacral results get heat-maps: so the heat-maps are proven on the radiograph,
whose pipeline maps every answer; the sacral CT heat-map wiring is checked, against the
stored pixels, in tests/platform/opinions/test_overlays.py.

Needs the built bundle, /usr/bin/chromium and the broker of the environment (Redis in CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from opinions.models import AnalysisRequest
from tests.browser.harness_server import state
from tests.browser.result_page import (  # noqa: F401 - the two fixtures
    after,
    browser_page_fixture,
    bundle_built_fixture,
    change,
    deepest,
    patch,
    screenshot,
    set_opacity,
    to_canvas,
    wait_for_viewer,
)
from tests.conftest import PASSWORD, make_user
from tests.integration.workers import Worker, worker_env

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Reports every change of the progress bar or its stage line to the test, with an id
# per loaded document: changes seen under one id happened without a reload.
RECORD_PROGRESS = """
window.__documentId = Math.random().toString(36).slice(2);
document.addEventListener("DOMContentLoaded", () => {
  const bar = document.getElementById("analysis-progress");
  const stage = document.getElementById("analysis-stage");
  if (!bar || !stage) return;
  const report = () => window.reportProgress(window.__documentId, stage.textContent, Number(bar.value));
  new MutationObserver(report).observe(bar, { attributes: true });
  new MutationObserver(report).observe(stage, { childList: true, characterData: true, subtree: true });
});
"""


@pytest.fixture
def started_workers(transactional_db, settings, tmp_path):
    """Worker processes the test starts itself (after the progress page is watching)."""
    from config.celery import app

    app.control.purge()  # nothing left over from an earlier run may be consumed
    workers = []

    def start():
        env = worker_env(settings.MEDIA_ROOT)
        workers.append(Worker("inference_worker.celery_app", "gpu", env, tmp_path / "gpu.log").start())
        workers.append(Worker("config.celery", "default", env, tmp_path / "default.log").start())

    yield start
    for worker in workers:
        worker.stop()
    for log in sorted(tmp_path.glob("*.log")):
        print(f"--- {log.name} ---\n{log.read_text()[-3000:]}")


def _log_in(page, live_server, user, next_url: str) -> None:
    page.goto(f"{live_server.url}{reverse('login')}?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _upload_and_start(page, files, task: str) -> None:
    """The upload form, then the question page (the suggestion must be right) with clinical data."""
    page.set_input_files("#pick-files", [str(p) for p in files])
    page.click("#upload-button")
    page.wait_for_url("**/configure/", timeout=60_000)
    assert page.locator("#suggestion").get_attribute("data-task") == task
    page.fill("input[name=age]", "58")
    page.select_option("select[name=sex]", "F")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#progress-card")


def test_sacral_ct_flow_progress_labelmap_and_marker(
    tiny_models, phantom_studies, started_workers, browser_page, live_server
):
    page = browser_page
    user = make_user("dora", "referrer")
    seen: list[tuple[str, str, float]] = []
    page.expose_function("reportProgress", lambda doc, stage, value: seen.append((doc, stage.strip(), value)))
    page.add_init_script(RECORD_PROGRESS)
    _log_in(page, live_server, user, reverse("opinions:new"))
    _upload_and_start(page, phantom_studies["sacral-ct"], "sacral-ct")
    analysis = AnalysisRequest.objects.get(requested_by=user)
    assert analysis.status == "queued" and analysis.pipeline == "sacral-ct"
    assert page.locator("#analysis-stage").inner_text().strip() == "queued"

    # Only now do workers exist: everything after this shows up on the watching page,
    # which reloads itself once when the opinion is recorded.
    started_workers()
    page.wait_for_selector("#osteolens-viewer", state="attached", timeout=300_000)
    analysis.refresh_from_db()
    assert analysis.status == "done", analysis.error
    assert page.url.endswith(reverse("opinions:detail", args=[analysis.public_id]))

    progress_document = seen[0][0]
    watched = [(stage, value) for doc, stage, value in seen if doc == progress_document]
    stages = [stage for stage, _ in watched]
    values = [value for _, value in watched]
    assert {"loading", "segmenting", "classifying", "saliency"} & set(stages), stages
    assert stages[-1] == "done" and values[-1] == pytest.approx(1.0), watched
    assert values == sorted(values), "the bar went backwards"
    assert len(set(values)) >= 3, watched
    assert page.evaluate("() => window.__documentId") != progress_document

    # The result page's viewer: the uploaded study, opened on the image with most tumour.
    result = analysis.opinion.result
    artefacts = result["artefacts"]
    labels = np.load(Path(settings.MEDIA_ROOT) / analysis.out_dir / artefacts["overlay_labels"]["path"])
    focus = artefacts["overlay_labels"]["focus_index"]
    s = wait_for_viewer(page, "s.overlays.labelmap")
    assert s["renderer"] == "gpu" and s["sliceIndex"] == focus
    assert "synthetic phantoms" in page.locator(".olv-synthetic").inner_text()
    if result["out_of_domain"]:
        assert page.locator("#ood-warning").is_visible()

    # Labelmap: the tumour's pixels are red with it, and not without it.
    tumour_xy = to_canvas(page, deepest(labels[focus] == 1))
    with_labels = patch(screenshot(page), tumour_xy)
    after(page, lambda: page.uncheck(".olv-seg-toggle"))
    assert state(page)["overlays"]["labelmap"] is False
    without = patch(screenshot(page), tumour_xy)
    redness = lambda rgb: rgb[0] - (rgb[1] + rgb[2]) / 2  # noqa: E731
    assert redness(with_labels) > redness(without) + 25, (with_labels, without)

    # Marker: yellow rings at the tumour centroid, gone when switched off.
    marker_xy = page.evaluate(
        "(w) => window.osteolensViewerApi.worldToCanvas(w, 'stack')", result["marker"]["world"]
    )

    def yellow_near(pixels) -> int:
        x, y = (int(round(v)) for v in marker_xy)
        box = pixels[y - 20 : y + 21, x - 20 : x + 21]
        return int(((box[..., 0] > 200) & (box[..., 1] > 190) & (box[..., 2] < 90)).sum())

    assert state(page)["overlays"]["marker"] is True
    assert yellow_near(screenshot(page)) > 20
    after(page, lambda: page.uncheck(".olv-marker-toggle"))
    assert yellow_near(screenshot(page)) < 3
    assert not [m for m in page.console_messages_seen if m.startswith("pageerror")]


def test_bone_radiograph_flow_heatmaps_switch_and_opacity(
    tiny_models, phantom_studies, started_workers, browser_page, live_server
):
    page = browser_page
    user = make_user("dora", "referrer")
    _log_in(page, live_server, user, reverse("opinions:new"))
    started_workers()
    _upload_and_start(page, phantom_studies["bone-xray"], "bone-xray")
    page.wait_for_selector("#osteolens-viewer", state="attached", timeout=300_000)
    analysis = AnalysisRequest.objects.get(requested_by=user)
    assert analysis.status == "done", analysis.error

    # The maps the worker wrote, as converted for the viewer, by the name the switch shows.
    root = Path(settings.MEDIA_ROOT) / analysis.out_dir
    maps = {
        spec["overlay"]: np.load(root / spec["path"])[0]
        for spec in analysis.opinion.result["artefacts"].values()
        if isinstance(spec, dict) and spec.get("kind") == "heatmap"
    }
    assert len(maps) >= 2, maps.keys()
    wait_for_viewer(page, "s.renders > 0")
    radios = page.locator(".olv-heat-choice input").evaluate_all("(els) => els.map((e) => e.value)")
    assert sorted(radios) == sorted(["", *maps])

    # A map with both a hot region and an empty one, to look at both.
    def contrast(heat) -> float:
        return min((heat > 0.6).mean(), (heat < 0.01).mean())

    name = max(maps, key=lambda n: contrast(maps[n]))
    heat = maps[name]
    assert contrast(heat) > 0.01, {n: (float(m.min()), float(m.max())) for n, m in maps.items()}
    hot_col_row = deepest(heat > 0.6)
    hot = to_canvas(page, hot_col_row)
    cold = to_canvas(page, deepest(heat < 0.01))
    plain = screenshot(page)

    after(page, lambda: page.check(f'.olv-heat-choice input[value="{name}"]'))
    assert state(page)["overlays"]["heatmap"] == name
    shown = screenshot(page)
    assert change(shown, plain, hot) > 40, "no heat-map colour where the map is high"
    assert change(shown, plain, cold) < 10, "heat-map colour where the map is empty"

    # Opacity 0 hides it; full opacity shows more of it than the default half.
    after(page, lambda: set_opacity(page, 0))
    assert change(screenshot(page), plain, hot) < 10
    after(page, lambda: set_opacity(page, 100))
    full = screenshot(page)
    assert change(full, plain, hot) > change(shown, plain, hot) + 10

    # The switch: the map that differs most from this one at the hot point draws its own values.
    col, row = hot_col_row
    other = max(
        (n for n in maps if n != name), key=lambda n: abs(float(maps[n][row, col]) - float(heat[row, col]))
    )
    assert abs(float(maps[other][row, col]) - float(heat[row, col])) > 0.3
    after(page, lambda: page.check(f'.olv-heat-choice input[value="{other}"]'))
    assert state(page)["overlays"]["heatmap"] == other
    assert change(screenshot(page), full, hot) > 20
    # Off draws none.
    after(page, lambda: page.check('.olv-heat-choice input[value=""]'))
    assert state(page)["overlays"]["heatmap"] is None
    assert change(screenshot(page), plain, hot) < 10
    assert state(page)["errors"] == []
    assert not [m for m in page.console_messages_seen if m.startswith("pageerror")]
