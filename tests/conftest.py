"""Shared fixtures: the named users of the permission matrix and real data paths."""

from __future__ import annotations

from pathlib import Path

import pytest

# Session fixtures with tiny trained models, shared by tests/integration and tests/browser.
pytest_plugins = ["tests.integration.tiny_models"]

REPO = Path(__file__).resolve().parents[1]
# Real scanner files, kept in the repository (origin and licence: tests/data/real/NOTICE.md).
REAL_DATA = REPO / "tests" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    assert REAL_DATA.is_dir(), f"real test data missing at {REAL_DATA}"
    return REAL_DATA


@pytest.fixture(autouse=True)
def _isolated_media(request, tmp_path):
    """Each test stores files in its own MEDIA_ROOT, so 'nothing left behind' is checkable."""
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        settings = request.getfixturevalue("settings")
        settings.MEDIA_ROOT = tmp_path / "media"
        settings.MEDIA_ROOT.mkdir()
    yield


@pytest.fixture(autouse=True)
def _fresh_login_rate_counts(request):
    """Sign-in failures are counted per address (accounts.ratelimit): every test starts
    from none, so wrong-password tests elsewhere never lock 127.0.0.1 for the next one."""
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        from django.core.cache import caches
        from django.core.cache.backends.redis import RedisCache

        cache = caches["login-rate"]
        if isinstance(cache, RedisCache):
            # Redis: the counts share a database with the sessions (CACHE_URL); clear()
            # would flush those too and sign out every browser test's user.
            client = cache._cache.get_client(write=True)
            for key in client.scan_iter(match="*:login-rate:*"):
                client.delete(key)
        else:
            cache.clear()
    yield


# Named users whose permissions differ (the permission matrix reads off their names):
# alice admin; rita junior resident; sam senior resident; dora and dan referring doctors.
PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, role: str, seniority: str = ""):
    from accounts.models import User

    return User.objects.create_user(
        username=username, password=PASSWORD, role=role, seniority=seniority, email=f"{username}@example.org"
    )


@pytest.fixture
def alice(db):
    return make_user("alice", "admin")


@pytest.fixture
def rita(db):
    return make_user("rita", "resident", "junior")


@pytest.fixture
def sam(db):
    return make_user("sam", "resident", "senior")


@pytest.fixture
def dora(db):
    return make_user("dora", "referrer")


@pytest.fixture
def dan(db):
    return make_user("dan", "referrer")


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client logged in as that user (None: anonymous)."""
    from django.test import Client

    def _make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return _make
