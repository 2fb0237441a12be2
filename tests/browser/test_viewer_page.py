"""The Django viewer page in real Chromium: a stored real CT renders, proven by pixels.

Unlike test_viewer_harness.py (static files, no Django) this goes through everything a
user's browser does: login session, the page template and its JSON config, wadouri image
ids answered by the permission-checked WADO endpoint, whitenoise static files and codecs.
Needs the built bundle (`npm ci && npm run build`) and /usr/bin/chromium.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.urls import reverse
from PIL import Image
from scipy import ndimage

from cases.models import Instance
from tests.browser.harness_server import BUNDLE, WAIT_READY, state
from tests.browser.login import log_in_by_cookie
from tests.conftest import make_user
from tests.platform.viewer.conftest import ingest_folder

pytestmark = pytest.mark.browser
# Playwright's sync API keeps an event loop running in this thread; the ORM calls of
# the test's set-up are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

STACK = '.olv-vp[data-viewport="stack"]'


@pytest.fixture(autouse=True)
def _bundle_built():
    if not (BUNDLE / "viewer.js").exists():
        pytest.fail(f"the viewer bundle is missing at {BUNDLE}: run `npm ci && npm run build` first")


def _screenshot(page) -> np.ndarray:
    png = page.locator(STACK).screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _luminance(pixels, xy, radius=3) -> float:
    x, y = (int(round(v)) for v in xy)
    return float(pixels[y - radius : y + radius + 1, x - radius : x + radius + 1].mean())


def _bone_and_soft(hu):
    """(col, row) of the densest 7x7 patch (bone) and of homogeneous soft tissue."""
    by, bx = np.unravel_index(np.argmax(ndimage.uniform_filter(hu, size=7)), hu.shape)
    assert hu[by, bx] > 300, "no bone on this slice"
    soft = (ndimage.minimum_filter(hu, size=15) > 20) & (ndimage.maximum_filter(hu, size=15) < 90)
    sy, sx = np.argwhere(soft)[len(np.argwhere(soft)) // 2]
    return (int(bx), int(by)), (int(sx), int(sy))


def test_case_page_renders_a_stored_real_ct(viewer_page, live_server, real_data, transactional_db):
    owner = make_user("dora", "referrer")
    case = ingest_folder(real_data / "ct_dicom_series_j2k", owner=owner)
    page = viewer_page
    log_in_by_cookie(page, live_server, owner)

    page.goto(live_server.url + reverse("viewer:case", args=[case.public_id]))
    page.wait_for_function(WAIT_READY, timeout=20000)
    s = state(page)
    assert s["errors"] == [], s["errors"]
    assert s["sliceCount"] == 20

    # The image on screen is the middle of the stack, served by our WADO endpoint.
    assert s["sliceIndex"] == 10
    url = s["imageId"].removeprefix("wadouri:")
    assert urlparse(url).path.startswith("/viewer/wado/")
    instance = Instance.objects.get(sop_uid=urlparse(url).path.rsplit("/", 1)[1])
    middle = Instance.objects.filter(series=instance.series).order_by("slice_location")[10]
    assert instance == middle

    pixels = _screenshot(page)
    grey = pixels.mean(axis=2)
    assert grey.std() > 20, f"flat image (std {grey.std():.1f})"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10

    ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / instance.path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    bone, soft = _bone_and_soft(hu)
    to_canvas = "([c, r]) => window.osteolensViewerApi.imageToCanvas(c, r, 'stack')"
    bone_xy, soft_xy = page.evaluate(to_canvas, list(bone)), page.evaluate(to_canvas, list(soft))
    assert _luminance(pixels, bone_xy) > _luminance(pixels, soft_xy) + 30


def test_other_users_get_no_images(viewer_page, live_server, real_data, transactional_db):
    owner = make_user("dora", "referrer")
    other = make_user("dan", "referrer")
    case = ingest_folder(real_data / "ct_dicom_series_j2k", owner=owner)
    log_in_by_cookie(viewer_page, live_server, other)
    response = viewer_page.goto(live_server.url + reverse("viewer:case", args=[case.public_id]))
    assert response.status == 404
    sop = Instance.objects.filter(series__study__case=case).first().sop_uid
    assert viewer_page.request.get(live_server.url + reverse("viewer:wado", args=[sop])).status == 404


def test_model_overlays_come_from_the_artefact_endpoints(
    viewer_page, live_server, real_data, transactional_db
):
    from django.utils import timezone

    from opinions.models import AnalysisRequest, ModelOpinion

    owner = make_user("dora", "referrer")
    case = ingest_folder(real_data / "ct_dicom_series_j2k", owner=owner)
    analysis = AnalysisRequest.objects.create(
        case=case, requested_by=owner, pipeline=case.task, status="done", finished_at=timezone.now()
    )
    ModelOpinion.objects.create(
        request=analysis, result={"artefacts": {"segmentation": "mask.npy", "gradcam": "gradcam.npy"}}
    )
    folder = Path(settings.MEDIA_ROOT) / analysis.out_dir
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[:512, :512]
    disk = ((yy - 256) ** 2 + (xx - 256) ** 2 < 60**2).astype(np.uint8)
    np.save(folder / "mask.npy", np.repeat(disk[None], 20, axis=0))
    np.save(folder / "gradcam.npy", np.repeat(disk[None].astype(np.float32), 20, axis=0))
    page = viewer_page
    log_in_by_cookie(page, live_server, owner)

    page.goto(live_server.url + reverse("viewer:case", args=[case.public_id]))
    page.wait_for_function(
        "() => { const s = window.osteolensViewer; return !!(s && (s.errors.length || s.overlays.labelmap)); }",
        timeout=30000,
    )
    s = state(page)
    assert s["errors"] == [], s["errors"]
    pixels = _screenshot(page)
    red = (pixels[..., 0] > pixels[..., 1] + 60) & (pixels[..., 0] > pixels[..., 2] + 60)
    assert red.sum() > 200, "no labelmap colour on screen"
    # Hidden answers: the same page carries no model output at all.
    page.goto(live_server.url + reverse("viewer:case", args=[case.public_id]) + "?answers=hidden")
    page.wait_for_function(WAIT_READY, timeout=20000)
    s = state(page)
    assert s["errors"] == [] and s["overlays"]["labelmap"] is False
    config = page.evaluate("() => JSON.parse(document.getElementById('viewer-config').textContent)")
    assert config["overlays"] == {} and "/artefact/" not in page.content()


def _fitted(shape, rows: int, cols: int, col: float, row: float) -> tuple[float, float]:
    """Where pixel (col, row) lands in a box of `shape` when the image is fitted whole and centred."""
    height, width = shape[:2]
    scale = min(width / cols, height / rows)
    return (width - cols * scale) / 2 + (col + 0.5) * scale, (height - rows * scale) / 2 + (row + 0.5) * scale


def test_preview_shows_the_opening_slice_until_the_live_render_replaces_it(
    viewer_page, live_server, real_data, transactional_db
):
    owner = make_user("dora", "referrer")
    case = ingest_folder(real_data / "ct_dicom_series_j2k", owner=owner)
    page = viewer_page
    log_in_by_cookie(page, live_server, owner)
    url = live_server.url + reverse("viewer:case", args=[case.public_id])

    # While the Cornerstone code has not arrived (viewer.js held back: its request never
    # gets an answer) the page already shows the slice the viewer opens on, from its own
    # HTML, with a note that the tools are loading.
    held = []
    page.route("**/build/viewer/viewer.js", lambda route: held.append(route))
    page.goto(url)
    preview = page.locator(f"{STACK} .olv-preview")
    preview.wait_for(state="visible", timeout=10000)
    page.wait_for_function("() => document.querySelector('.olv-preview').complete")
    assert "loading viewer tools" in page.locator(f"{STACK} .olv-preview-note").inner_text()
    # No page state yet: nothing that waits for the viewer can take the preview for it.
    assert held, "viewer.js was never asked for"
    assert page.evaluate("() => window.osteolensViewer === undefined")
    image_id = preview.get_attribute("data-image-id")
    sop_uid = urlparse(image_id.removeprefix("wadouri:")).path.rsplit("/", 1)[1]
    middle = Instance.objects.filter(series__study__case=case).order_by("slice_location")[10]
    assert sop_uid == middle.sop_uid

    still = _screenshot(page)
    ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / middle.path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    bone, soft = _bone_and_soft(hu)
    rows, cols = hu.shape
    bone_xy, soft_xy = _fitted(still.shape, rows, cols, *bone), _fitted(still.shape, rows, cols, *soft)
    assert _luminance(still, bone_xy) > _luminance(still, soft_xy) + 30

    # With the code, the live render takes the preview's place: same slice, same spot,
    # same window, and the preview is gone.
    page.unroute_all(behavior="ignoreErrors")
    page.goto(url)
    page.wait_for_function(WAIT_READY, timeout=20000)
    s = state(page)
    assert s["errors"] == [], s["errors"]
    assert s["preview"] == image_id and s["imageId"] == image_id
    assert page.locator(".olv-preview, .olv-preview-note").count() == 0
    live = _screenshot(page)
    assert live.shape == still.shape
    to_canvas = "([c, r]) => window.osteolensViewerApi.imageToCanvas(c, r, 'stack')"
    live_bone = page.evaluate(to_canvas, [bone[0] + 0.5, bone[1] + 0.5])
    assert abs(live_bone[0] - bone_xy[0]) < 2 and abs(live_bone[1] - bone_xy[1]) < 2, (live_bone, bone_xy)
    # Pixel agreement over the image (margins hold labels, letters and the note).
    a, b = still.mean(axis=2)[40:-40, 40:-40], live.mean(axis=2)[40:-40, 40:-40]
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95
    assert np.abs(a - b).mean() < 12, np.abs(a - b).mean()
