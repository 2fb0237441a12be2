"""The session user lookup (accounts.backends.SessionUserBackend) answers what
ModelBackend answers, and every change to the user counts from the next request."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.urls import reverse
from django.utils import timezone

from accounts.backends import SessionUserBackend
from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def field_values(user) -> dict:
    return {f.attname: getattr(user, f.attname) for f in User._meta.concrete_fields}


def test_same_user_as_model_backend(rita):
    User.objects.filter(pk=rita.pk).update(last_login=timezone.now())
    ours, django_s = SessionUserBackend().get_user(rita.pk), ModelBackend().get_user(rita.pk)
    assert field_values(ours) == field_values(django_s)
    # Converted like the ORM converts (aware datetimes on SQLite too), and saved as a
    # fresh row, not an unsaved copy.
    assert timezone.is_aware(ours.last_login)
    assert ours._state.adding is False and ours._state.db == "default"
    assert ours.check_password(PASSWORD)


def test_missing_inactive_or_unusable_id_is_nobody(rita):
    assert SessionUserBackend().get_user(rita.pk + 1000) is None
    assert SessionUserBackend().get_user("not-a-number") is None
    User.objects.filter(pk=rita.pk).update(is_active=False)
    assert SessionUserBackend().get_user(rita.pk) is None


def test_role_change_counts_from_next_request(client, rita):
    client.force_login(rita)
    upload = reverse("ingest:upload")
    assert client.get(upload).status_code == 403
    User.objects.filter(pk=rita.pk).update(role="referrer")
    assert client.get(upload).status_code == 200


def test_deactivation_and_password_change_end_the_session(client, rita, sam):
    library = reverse("cases:library")
    client.force_login(rita)
    assert client.get(library).status_code == 200
    User.objects.filter(pk=rita.pk).update(is_active=False)
    assert client.get(library).status_code == 302

    client.force_login(sam)
    assert client.get(library).status_code == 200
    sam.set_password("another-long-password-123")
    User.objects.filter(pk=sam.pk).update(password=sam.password)
    assert client.get(library).status_code == 302


def test_password_login_still_works(client, rita):
    assert client.login(username="rita", password=PASSWORD)
    assert client.get(reverse("cases:library")).status_code == 200
    assert not client.login(username="rita", password="wrong")
