"""Password guessing is stopped: per account and per address, on the login page and for
HTTP Basic (DICOMweb). A lock refuses the right password too, until it expires."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from accounts import ratelimit
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_MAX_FAILURES_PER_USER = 5
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    settings.LOGIN_LOCKOUT_SECONDS = 900


def login(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def later(monkeypatch, seconds: float) -> None:
    """The limiter's clock moves on (the lock's expiry is its own timestamp)."""
    now = ratelimit.time.time()
    monkeypatch.setattr(ratelimit.time, "time", lambda: now + seconds)


def test_sixty_wrong_passwords_lock_the_account_and_the_right_one_waits(dora, monkeypatch):
    client = Client()
    statuses = [login(client, "dora", f"guess-{n}").status_code for n in range(60)]
    assert statuses[:4] == [200] * 4  # the form again, "wrong password"
    assert set(statuses[4:]) == {429}  # the fifth failure locks
    response = login(client, "dora", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)
    text = response.content.decode()
    assert "Too many failed sign-in attempts" in text and "Try again in 15 minutes" in text
    assert 0 < int(response["Retry-After"]) <= 900
    # Another address, same account: still locked (guessing from many machines).
    assert login(Client(), "dora", PASSWORD, address="10.9.9.9").status_code == 429
    later(monkeypatch, 901)
    fresh = Client()
    assert login(fresh, "dora", PASSWORD).status_code == 302
    assert signed_in(fresh)


def test_one_address_trying_many_accounts_is_locked(dora, dan):
    client = Client()
    for n in range(20):
        login(client, f"nobody-{n}", "guess", address="10.0.0.7")
    # A real account, the right password, from that address: refused.
    assert login(client, "dan", PASSWORD, address="10.0.0.7").status_code == 429
    assert not signed_in(client)
    # The same account from elsewhere is not affected.
    other = Client()
    assert login(other, "dan", PASSWORD, address="10.0.0.8").status_code == 302


def test_a_success_before_the_limit_forgets_the_accounts_failures(dora):
    client = Client()
    for n in range(4):
        login(client, "dora", f"guess-{n}", address=f"10.1.0.{n}")
    assert login(Client(), "dora", PASSWORD, address="10.1.1.1").status_code == 302
    for n in range(4):
        assert login(client, "dora", f"again-{n}", address=f"10.2.0.{n}").status_code == 200


def basic(username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}", "REMOTE_ADDR": "10.0.0.3"}


def test_basic_auth_guessing_on_dicomweb_is_locked(dora, monkeypatch):
    client = Client()
    statuses = [client.get("/dicomweb/studies", **basic("dora", f"guess-{n}")).status_code for n in range(60)]
    assert statuses[:4] == [401] * 4
    assert set(statuses[4:]) == {429}
    response = client.get("/dicomweb/studies", **basic("dora", PASSWORD))
    assert response.status_code == 429
    assert "Try again in" in response.content.decode() and int(response["Retry-After"]) > 0
    # The lock is shared with the login page.
    assert login(Client(), "dora", PASSWORD, address="10.3.3.3").status_code == 429
    later(monkeypatch, 901)
    assert client.get("/dicomweb/studies", **basic("dora", PASSWORD)).status_code == 200
