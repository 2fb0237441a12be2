"""A session ended anywhere is refused everywhere, at once.

Several web processes serve the site, each with its own memory. A logout (or an admin
removing a session) happens in one of them; the next request with that cookie may land
in another. Deleting the session row here stands for that other process's logout.
"""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_session_deleted_elsewhere_no_longer_logs_in(dora):
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
