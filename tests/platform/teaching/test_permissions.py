"""Every teaching URL for every role: anonymous -> login, referrer -> 403 everywhere,
residents read and see their own dashboard, admins also build sets and see cohorts.
Reads belong to their reader: anyone else gets 404, admins included.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from teaching import services
from teaching.models import Read
from tests.platform.teaching.helpers import held_out_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(alice, rita, sam, dora, client_for):
    held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    held_out_case(task="bone-xray", diagnosis="tuberculosis", with_image=True)
    teaching_set, _ = services.create_set(created_by=alice, title="Bones", task="bone-xray")
    c = client_for(rita)
    c.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    read = Read.objects.get(reader=rita)
    services.commit_read(read=read, diagnosis="tumour", malignant=True, certainty="probable")
    return {"set": teaching_set, "read": read, "rita": rita, "sam": sam}


def urls(world) -> dict[str, tuple[str, str]]:
    """name -> (url, audience): 'reader' (residents + admins), 'admin', or 'owner' (rita's read)."""
    s, r, rita = world["set"].public_id, world["read"].public_id, world["rita"].pk
    return {
        "home": (reverse("teaching:home"), "reader"),
        "set-new": (reverse("teaching:set-new"), "admin"),
        "set-detail": (reverse("teaching:set-detail", args=[s]), "reader"),
        "set-next": (reverse("teaching:set-next", args=[s]), "reader"),
        "study": (reverse("teaching:study", args=[s]), "admin"),
        "read": (reverse("teaching:read", args=[r]), "owner"),
        "read-state": (reverse("teaching:read-state", args=[r]), "owner"),
        "read-image": (reverse("teaching:read-image", args=[r, 0]), "owner"),
        "reveal": (reverse("teaching:reveal", args=[r]), "owner"),
        "reveal-overlay": (reverse("teaching:reveal-overlay", args=[r, "regions"]), "owner"),
        "dashboard": (reverse("teaching:dashboard"), "reader"),
        "resident-dashboard": (reverse("teaching:resident-dashboard", args=[rita]), "rita+admin"),
        "dashboard-png": (reverse("teaching:dashboard-png", args=[rita, "learning"]), "rita+admin"),
        "dashboard-roc": (
            reverse("teaching:dashboard-task-png", args=[rita, "roc", "bone-xray"]),
            "rita+admin",
        ),
        "dashboard-csv": (reverse("teaching:dashboard-csv", args=[rita, "reads"]), "rita+admin"),
        "cohort": (reverse("teaching:cohort"), "admin"),
        "cohort-csv": (reverse("teaching:cohort-csv", args=["performance"]), "admin"),
        # Last: the case of the day may be the case of rita's committed read, and while
        # she reads it again its reveal is (rightly) refused.
        "daily": (reverse("teaching:daily"), "reader"),
    }


def expected(audience: str, who: str) -> set[int]:
    ok = {200, 302}
    if who == "anonymous":
        return {302}
    if who == "dora":
        return {403}
    if audience == "reader":
        return ok
    if audience == "admin":
        return ok if who == "alice" else {403}
    if audience == "owner":
        return ok if who == "rita" else {404}
    if audience == "rita+admin":
        return ok if who in ("rita", "alice") else {403}
    raise AssertionError(audience)


@pytest.mark.parametrize("who", ["anonymous", "alice", "rita", "sam", "dora"])
def test_permission_matrix(world, client_for, alice, dora, who):
    users = {"anonymous": None, "alice": alice, "rita": world["rita"], "sam": world["sam"], "dora": dora}
    c = client_for(users[who])
    failures = []
    for name, (url, audience) in urls(world).items():
        response = c.get(url)
        if response.status_code not in expected(audience, who):
            failures.append(f"{name} as {who}: {response.status_code}")
        if who == "anonymous":
            assert reverse("login") in response["Location"], name
    assert not failures, failures


def test_posts_are_checked_too(world, client_for, alice, dora, sam):
    read_url = reverse("teaching:read", args=[world["read"].public_id])
    assert (
        client_for(dora).post(reverse("teaching:set-new"), {"title": "x", "task": "bone-xray"}).status_code
        == 403
    )
    assert (
        client_for(sam).post(reverse("teaching:set-new"), {"title": "x", "task": "bone-xray"}).status_code
        == 403
    )
    assert client_for(sam).post(read_url, {"diagnosis": "tumour"}).status_code == 404
    assert client_for(dora).post(read_url, {"diagnosis": "tumour"}).status_code == 403


def test_inactive_sets_are_hidden_from_residents(world, client_for, alice, rita):
    world["set"].is_active = False
    world["set"].save()
    url = reverse("teaching:set-detail", args=[world["set"].public_id])
    assert client_for(rita).get(url).status_code == 404
    assert client_for(alice).get(url).status_code == 200
