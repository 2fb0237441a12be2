"""The REST API: token authentication, privacy, and the OpenAPI schema."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from opinions import services
from opinions.models import AnalysisRequest
from tests.platform.factories import make_case
from tests.platform.opinions.results import sacral_result

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def finished_request(owner) -> AnalysisRequest:
    case = make_case(in_library=False, owner=owner, diagnosis=None)
    analysis = AnalysisRequest.objects.create(case=case, requested_by=owner, pipeline="sacral-ct")
    services.record_result(sacral_result(str(analysis.public_id)))
    return analysis


def test_token_holder_reads_own_request_with_result(dora):
    analysis = finished_request(dora)
    response = api_for(dora).get(f"/api/v1/requests/{analysis.public_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "done"
    assert body["result"]["opinions"][0]["top_class"] == "chordoma"
    assert body["result"]["synthetic_training"] is True
    listing = api_for(dora).get("/api/v1/requests/").json()
    assert [r["id"] for r in listing] == [str(analysis.public_id)]


@pytest.mark.parametrize("who", ["dan", "rita", None])
def test_others_cannot_see_the_request(request, dora, who):
    analysis = finished_request(dora)
    user = request.getfixturevalue(who) if who else None
    client = api_for(user)
    detail = client.get(f"/api/v1/requests/{analysis.public_id}/")
    report = client.get(f"/api/v1/requests/{analysis.public_id}/report.pdf")
    listing = client.get("/api/v1/requests/")
    if who == "dan":
        assert (detail.status_code, report.status_code) == (404, 404)
        assert listing.json() == []
    else:
        assert {detail.status_code, report.status_code, listing.status_code} <= {401, 403}


def test_bad_token_is_refused(dora):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/requests/").status_code == 401


def test_submit_without_files_is_a_clear_400(dora):
    response = api_for(dora).post("/api/v1/requests/", {"pipeline": "sacral-ct"}, format="multipart")
    assert response.status_code == 400
    assert "files" in response.json()


def test_openapi_schema_lists_the_workflow(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code in (200, 401, 403)
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "/api/v1/requests/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/requests/"]


def test_an_empty_file_is_refused_with_a_message_naming_it(dora):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.models import Case

    response = api_for(dora).post(
        "/api/v1/requests/", {"files": [SimpleUploadedFile("IM0007.dcm", b"")]}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "IM0007.dcm: The submitted file is empty." and body["code"] == "invalid"
    assert "files" in body  # the field errors stay where clients read them
    assert Case.objects.count() == 0
