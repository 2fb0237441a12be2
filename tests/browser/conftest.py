"""Fixtures for the browser tests: one static harness server and one Chromium per session."""

from __future__ import annotations

import pytest

from tests.browser.harness_server import HarnessServer, ensure_bundle, launch


@pytest.fixture(scope="session")
def harness():
    ensure_bundle()
    server = HarnessServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def viewer_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    page = context.new_page()
    page.console_messages_seen = []
    page.on("console", lambda m: page.console_messages_seen.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.console_messages_seen.append(f"pageerror: {e}"))
    yield page
    context.close()
