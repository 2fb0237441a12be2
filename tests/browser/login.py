"""Logging a user into a Playwright page without the login form (pages under test, not login)."""

from __future__ import annotations

from django.conf import settings
from django.test import Client


def log_in_by_cookie(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )
