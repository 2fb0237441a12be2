"""The top bar's links ({% site_nav %}, rendered once per role and reused) per role."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


def nav_links(client) -> list[str]:
    html = client.get(reverse("cases:library")).content.decode()
    nav = re.search(r'<nav class="mainnav">(.*?)</nav>', html, re.S).group(1)
    return re.findall(r">([^<]+)</a>", nav)


def test_links_per_role(client_for, alice, rita, dora):
    assert nav_links(client_for(rita)) == ["Library", "Teaching"]
    assert nav_links(client_for(dora)) == ["Library", "Upload", "Second opinions"]
    assert nav_links(client_for(alice)) == [
        "Library",
        "Teaching",
        "Upload",
        "Second opinions",
        "Import cohort",
        "Admin",
    ]
    # Each user still sees their own name beside the links, though the links are shared.
    assert ">rita · Resident (junior)<" in client_for(rita).get(reverse("cases:library")).content.decode()


def test_links_follow_a_role_change(client_for, rita):
    client = client_for(rita)
    assert nav_links(client) == ["Library", "Teaching"]
    User.objects.filter(pk=rita.pk).update(role="referrer")
    assert nav_links(client) == ["Library", "Upload", "Second opinions"]
    User.objects.filter(pk=rita.pk).update(role="resident", is_superuser=True)
    assert "Admin" in nav_links(client)
