"""A session ended anywhere is refused everywhere, at once.

Several web processes serve the site, each with its own memory. A logout happens in
one of them; the next request with that cookie may land in another. The first test
ends the session in a real second process; with the database engine, deleting the row
stands for it too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD
from tests.integration.workers import REPO, worker_env

pytestmark = pytest.mark.django_db


REDIS = os.environ.get("CACHE_URL") or "redis://127.0.0.1:6379/13"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cache_url", ["", REDIS], ids=["database", "shared-redis-cache"])
def test_a_logout_in_another_process_ends_the_session_here(dora, tmp_path, settings, cache_url):
    """Both engines settings.py can select: the database alone, and cached_db on Redis."""
    if cache_url:
        settings.CACHES = {
            **settings.CACHES,
            # As settings.py builds it from CACHE_URL in the other process.
            "sessions": {
                "BACKEND": "config.redis_cache.RedisCache",
                "LOCATION": cache_url,
                "KEY_PREFIX": "osteolens",
            },
        }
        settings.SESSION_CACHE_ALIAS = "sessions"
        settings.SESSION_ENGINE = "accounts.shared_cache_sessions"
    else:
        settings.SESSION_ENGINE = "accounts.session_store"
    client = Client()
    assert client.login(username=dora.username, password=PASSWORD)
    assert client.get("/cases/").status_code == 200  # read, and cached where the engine caches
    key = client.session.session_key
    # What logout does to the session (flush -> delete), in a process of its own whose
    # settings come from the environment, as a web process's do.
    script = (
        "import django; django.setup()\n"
        "from importlib import import_module\n"
        "from django.conf import settings\n"
        f"assert settings.SESSION_ENGINE == {settings.SESSION_ENGINE!r}, settings.SESSION_ENGINE\n"
        f"import_module(settings.SESSION_ENGINE).SessionStore({key!r}).delete()\n"
    )
    env = worker_env(tmp_path / "media") | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CACHE_URL": cache_url,
    }
    subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, check=True, timeout=120)
    response = client.get("/cases/")
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_a_session_row_deleted_elsewhere_no_longer_logs_in(dora, settings):
    settings.SESSION_ENGINE = "accounts.session_store"  # the database engine: the row is all there is
    client = Client()
    assert client.login(username=dora.username, password=PASSWORD)
    assert client.get("/cases/").status_code == 200  # the session is read, and warm

    Session.objects.filter(session_key=client.session.session_key).delete()

    response = client.get("/cases/")
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_logout_ends_the_session_row(dora):
    client = Client()
    assert client.login(username=dora.username, password=PASSWORD)
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()
