"""A requests session signed in to a server the bench started (login page, CSRF, form)."""

from __future__ import annotations

import time

import requests


def logged_in(base: str, username: str, password: str, attempts: int = 600) -> requests.Session:
    """Wait for the server to answer, sign in, and return the session (asserts success)."""
    session = requests.Session()
    for _ in range(attempts):
        try:
            session.get(f"{base}/accounts/login/", timeout=60)
            break
        except requests.RequestException:
            time.sleep(0.1)
    login = session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
    )
    assert login.status_code == 302, f"login failed: {login.status_code}"
    return session
