"""Named users whose permissions differ (the permission matrix reads off their names).

- alice: admin
- rita: resident (junior); sam: resident (senior)
- dora: referring doctor; dan: another referring doctor
"""

from __future__ import annotations

import pytest

from accounts.models import Role, Seniority, User

PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, role: str, seniority: str = "") -> User:
    return User.objects.create_user(
        username=username, password=PASSWORD, role=role, seniority=seniority, email=f"{username}@example.org"
    )


@pytest.fixture
def alice(db) -> User:
    return make_user("alice", Role.ADMIN)


@pytest.fixture
def rita(db) -> User:
    return make_user("rita", Role.RESIDENT, Seniority.JUNIOR)


@pytest.fixture
def sam(db) -> User:
    return make_user("sam", Role.RESIDENT, Seniority.SENIOR)


@pytest.fixture
def dora(db) -> User:
    return make_user("dora", Role.REFERRER)


@pytest.fixture
def dan(db) -> User:
    return make_user("dan", Role.REFERRER)


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
