"""Posting files to the three upload endpoints the way a browser or a hospital system
does, and reading their answers the same way for all three."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.platform.ingest.hostile import ENDPOINTS


def client_of(endpoint: str, user):
    if endpoint == "api":
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client
    client = Client()
    client.force_login(user)
    return client


def post_files(endpoint: str, user, files: dict[str, bytes], *, client=None, **extra):
    """POST ``files`` (name -> bytes) as the multipart field ``files``."""
    client = client or client_of(endpoint, user)
    uploads = [SimpleUploadedFile(name, data) for name, data in files.items()]
    if endpoint == "api":
        return client.post(ENDPOINTS[endpoint], {"files": uploads}, format="multipart", **extra)
    return client.post(
        ENDPOINTS[endpoint], {"files": uploads}, headers={"Accept": "application/json"}, **extra
    )


def accepted(endpoint: str, response) -> bool:
    return response.status_code in ((201, 200) if endpoint != "opinions" else (200,))


def error_of(response) -> str:
    """The message of a refusal; fails the test if the answer is not one."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return body["error"]
