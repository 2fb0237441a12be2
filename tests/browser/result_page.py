"""Helpers for browser tests of the second-opinion result page (tests/browser/test_second_opinion_*).

Test modules import the two fixtures (bundle_built_fixture, browser_page_fixture) to use them.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from tests.browser.harness_server import BUNDLE, WAIT_READY, state

STACK = '.olv-vp[data-viewport="stack"]'


@pytest.fixture(autouse=True, name="bundle_built")
def bundle_built_fixture():
    if not (BUNDLE / "viewer.js").exists():
        pytest.fail(f"the viewer bundle is missing at {BUNDLE}: run `npm ci && npm run build` first")


@pytest.fixture(name="browser_page")
def browser_page_fixture(chromium):
    context = chromium.new_context(viewport={"width": 1600, "height": 1100}, device_scale_factor=1)
    page = context.new_page()
    page.console_messages_seen = []
    page.on("pageerror", lambda e: page.console_messages_seen.append(f"pageerror: {e}"))
    yield page
    context.close()


def screenshot(page) -> np.ndarray:
    png = page.locator(STACK).screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def patch(pixels, xy, radius=2) -> np.ndarray:
    x, y = (int(round(v)) for v in xy)
    return pixels[y - radius : y + radius + 1, x - radius : x + radius + 1].reshape(-1, 3).mean(axis=0)


def after(page, action) -> None:
    """Run `action` (a control change) and wait until the viewer has rendered after it."""
    renders = state(page)["renders"]
    action()
    page.wait_for_function(f"() => window.osteolensViewer.renders > {renders}", timeout=10000)
    page.wait_for_timeout(150)  # the overlay canvas is drawn in the same frame; let it land


def set_opacity(page, percent: int) -> None:
    page.evaluate(
        "(v) => { const r = document.querySelector('.olv-opacity'); r.value = String(v);"
        " r.dispatchEvent(new Event('input', { bubbles: true })); }",
        percent,
    )


def deepest(mask: np.ndarray) -> tuple[int, int]:
    """(col, row) of the mask pixel farthest from its edge."""
    # Padding makes the image border an edge too, so the point is never on it.
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(np.argmax(distance), mask.shape)
    return int(col), int(row)


def to_canvas(page, col_row) -> list[float]:
    return page.evaluate("([c, r]) => window.osteolensViewerApi.imageToCanvas(c, r, 'stack')", list(col_row))


def wait_for_viewer(page, what: str) -> dict:
    page.wait_for_function(
        f"() => {{ const s = window.osteolensViewer; return !!(s && (s.errors.length || {what})); }}",
        timeout=60_000,
    )
    page.wait_for_function(WAIT_READY)
    s = state(page)
    assert s["errors"] == [], s["errors"]
    return s


def change(a, b, xy) -> float:
    return float(np.abs(patch(a, xy) - patch(b, xy)).sum())
