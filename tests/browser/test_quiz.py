"""A whole quiz in real Chromium: read, mark a region, commit, reveal, dashboard.

Runs against pytest-django's live server; the resident is logged in by copying the
session cookie of a test Client's force_login into the browser context.
"""

from __future__ import annotations

import json
import os

import pytest
from django.test import Client

from accounts.models import Role, Seniority
from teaching import services
from teaching.models import Read
from tests.conftest import make_user
from tests.platform.teaching.helpers import held_out_case, make_opinion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# Playwright's sync API keeps an event loop running in this thread; Django then refuses
# ORM calls from it. The calls are plain synchronous ones (fixtures, assertions), and the
# live server runs in its own thread, so the guard does not apply here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def quiz(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TEACHING_AUTO_ANALYSE = False
    alice = make_user("alice", Role.ADMIN)
    rita = make_user("rita", Role.RESIDENT, Seniority.JUNIOR)
    first = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True, label="bx-1")
    first.annotations = {"lesion_box": "16,16,48,48"}
    first.save()
    make_opinion(first, {"tumour": 0.83, "infection": 0.17})
    held_out_case(task="bone-xray", diagnosis="tuberculosis", with_image=True, label="bx-2")
    teaching_set, _ = services.create_set(
        created_by=alice,
        title="Radiograph quiz",
        task="bone-xray",
        case_refs=["bx-1", "bx-2"],
        time_limit_s=300,
    )
    return rita, teaching_set


def logged_in_page(chromium, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def commit(page, diagnosis: str, behaviour: str, certainty: str) -> None:
    page.get_by_label(diagnosis, exact=True).check()
    page.get_by_label(behaviour, exact=True).check()
    page.get_by_label(certainty, exact=True).check()
    page.click("#commit")
    page.wait_for_url("**/reveal/")


def test_whole_quiz(chromium, live_server, quiz):
    rita, teaching_set = quiz
    context, page = logged_in_page(chromium, live_server, rita)
    try:
        page.goto(f"{live_server.url}/teaching/")
        page.get_by_role("link", name="Start").click()
        page.wait_for_url("**/reads/*/")
        assert page.locator("h1").inner_text().startswith("Case 1 of 2")
        assert "osteosarcoma" not in page.content().lower()
        # The key image is shown and the drawing layer matches it.
        page.wait_for_function("document.getElementById('key-image').naturalWidth > 0")
        box = page.locator("#region-canvas").bounding_box()
        assert box["width"] > 100
        # Drag a rectangle over the middle quarter: image pixels ~16..48 of the 64 x 64 image.
        page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75, steps=5)
        page.mouse.up()
        region = json.loads(page.input_value("#id_region"))
        assert region["shape"] == "rect"
        (x0, y0), (x1, y1) = region["points"]
        assert abs(x0 - 16) < 2 and abs(y0 - 16) < 2 and abs(x1 - 48) < 2 and abs(y1 - 48) < 2
        assert "Rectangle marked" in page.inner_text("#region-status")
        assert "s" in page.inner_text("#timer")  # the countdown runs

        commit(page, "Tumour", "Malignant", "Probable")
        assert page.inner_text("#verdict").startswith("Right")
        assert page.inner_text("#truth") == "Osteosarcoma"
        scores = page.inner_text("#region-scores")
        assert "Dice with the tumour" in scores and "1.00" in scores
        assert "83.0%" in page.content()  # the model's probabilities beside the answer
        overlay = page.locator("img[alt='Tumour outline and your region']")
        overlay.scroll_into_view_if_needed()
        page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")

        page.click("#next-case")
        page.wait_for_url("**/reads/*/")
        assert page.locator("h1").inner_text().startswith("Case 2 of 2")
        commit(page, "Tumour", "Benign", "Possible")
        assert page.inner_text("#verdict").startswith("Missed")
        assert page.locator("#next-case").count() == 0

        page.get_by_role("link", name="Your dashboard").click()
        page.wait_for_url("**/teaching/me/")
        assert "0.50" in page.inner_text("#overall-accuracy")
        page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert page.errors == []
    finally:
        context.close()
    reads = Read.objects.filter(reader=rita).order_by("committed_at")
    assert [r.correct for r in reads] == [True, False]
    assert reads[0].region_scores["dice"] == pytest.approx(1.0, abs=0.1)
    assert all(r.duration_s > 0 for r in reads)
