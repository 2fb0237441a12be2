"""Promoting an unfinished request is refused in words; the API schema needs a login."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from rest_framework.authtoken.models import Token

from cases.models import Histopathology
from opinions.models import AnalysisRequest
from tests.platform.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def unfinished(dora):
    case = make_case(in_library=False, owner=dora, diagnosis=None)
    return AnalysisRequest.objects.create(case=case, requested_by=dora, pipeline="sacral-ct")


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("status", ["queued", "running", "failed"])
def test_promoting_an_unfinished_request_is_a_clear_refusal(client_for, alice, unfinished, method, status):
    from cases.models import BEHAVIOUR_CHOICES, CERTAINTY_CHOICES, CONFIRMATION_CHOICES

    # The form's real choices, so a POST would pass validation on a finished request.
    data = {
        "diagnosis": "chordoma",
        "behaviour": BEHAVIOUR_CHOICES[0][0],
        "confirmation": [c for c in CONFIRMATION_CHOICES if c[0] != "synthetic"][0][0],
        "certainty": CERTAINTY_CHOICES[0][0],
    }
    AnalysisRequest.objects.filter(pk=unfinished.pk).update(status=status)
    client = client_for(alice)
    url = f"/opinions/{unfinished.public_id}/promote/"
    response = client.get(url) if method == "get" else client.post(url, data)
    assert response.status_code == 302
    assert response["Location"] == f"/opinions/{unfinished.public_id}/"
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Only a finished analysis can be promoted" in t for t in texts), texts
    assert not Histopathology.objects.filter(case=unfinished.case).exists()
    unfinished.case.refresh_from_db()
    assert unfinished.case.in_library is False


def test_schema_is_refused_to_anonymous_and_served_to_token_and_session(client, dora):
    anonymous = client.get("/api/schema/")
    assert anonymous.status_code in (401, 403)
    assert b"/api/v1/requests/" not in anonymous.content
    token = Token.objects.create(user=dora)
    with_token = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert with_token.status_code == 200
    assert b"/api/v1/requests/" in with_token.content
    client.force_login(dora)
    assert client.get("/api/schema/").status_code == 200
