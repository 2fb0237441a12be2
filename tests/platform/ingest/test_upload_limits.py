"""One upload service for all three endpoints (issue 15 item 6): refused on the declared
size before the body is read, stopped as soon as the bytes or files received pass the
limits, staged once under the upload temp dir, and every message names the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ingest import services
from tests.platform.ingest.helpers import ct_dataset, dicom_bytes, snapshot
from tests.platform.ingest.hostile import ENDPOINTS
from tests.platform.ingest.upload_client import accepted, client_of, error_of, post_files

pytestmark = pytest.mark.django_db
BOUNDARY = "BoUnDaRy"


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def post_declared(endpoint: str, client, declared: str | None):
    """A multipart POST declaring ``declared`` bytes whose body must never be read."""
    extra = {"wsgi.input": UnreadableBody(), "CONTENT_LENGTH": declared if declared is not None else ""}
    return client.generic(
        "POST",
        ENDPOINTS[endpoint],
        data=b"",
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers={"Accept": "application/json"},
        **extra,
    )


def staged_files() -> list[Path]:
    return sorted(p for p in Path(settings.UPLOAD_TEMP_DIR).rglob("*") if p.is_file())


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_declared_3_gib_body_is_refused_unread(endpoint, dora):
    client = client_of(endpoint, dora)
    check = snapshot()
    response = post_declared(endpoint, client, str(3 * 1024**3))
    assert response.status_code == 413
    assert error_of(response).startswith("The upload is too large: 3,221,225,472 bytes (the limit is")
    check()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_body_without_content_length_is_refused_with_the_reason(endpoint, dora):
    response = post_declared(endpoint, client_of(endpoint, dora), None)
    assert response.status_code == 411
    assert "no Content-Length" in error_of(response)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_the_body_is_cut_off_when_the_files_pass_the_limit(endpoint, dora, settings):
    """Within the declared-size slack, so only the running count can stop it."""
    settings.UPLOAD_MAX_BYTES = 300_000
    client = client_of(endpoint, dora)
    check = snapshot()
    files = {"first.dcm": dicom_bytes(ct_dataset(0)), "big-second.dcm": bytes(600_000)}
    response = post_files(endpoint, dora, files, client=client)
    assert response.status_code == 413
    assert error_of(response) == (
        "The upload is too large: it passed the limit of 300,000 bytes while receiving big-second.dcm."
    )
    check()
    assert staged_files() == []


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_too_many_files_is_a_clear_400(endpoint, dora, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    client = client_of(endpoint, dora)
    check = snapshot()
    files = {f"IM{i}": dicom_bytes(ct_dataset(i)) for i in range(5)}
    response = post_files(endpoint, dora, files, client=client)
    assert response.status_code == 400
    assert error_of(response).startswith("Too many files in one upload")
    check()
    assert staged_files() == []


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_messages_name_the_uploaded_file(endpoint, dora):
    client = client_of(endpoint, dora)
    check = snapshot()
    response = post_files(endpoint, dora, {"letter-to-gp.txt": b"Dear colleague"}, client=client)
    assert response.status_code == 400
    assert error_of(response).startswith("Not an image: letter-to-gp.txt.")
    check()
    assert staged_files() == []


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_uploads_reach_ingest_from_the_upload_temp_dir_without_a_copy(endpoint, dora, monkeypatch):
    """Each file is staged once, in the upload temp dir, and ingest reads it there."""
    seen = []
    real = services.ingest_paths

    def recording(paths, **kwargs):
        for item in paths:
            seen.append((item.name, Path(item.path), Path(item.path).read_bytes()[-64:]))
        return real(paths, **kwargs)

    monkeypatch.setattr(services, "ingest_paths", recording)
    files = {f"IM{i}": dicom_bytes(ct_dataset(i)) for i in range(3)}
    response = post_files(endpoint, dora, files)
    assert accepted(endpoint, response), response.content[:300]
    root = Path(settings.UPLOAD_TEMP_DIR)
    assert [name for name, _, _ in seen] == ["IM0", "IM1", "IM2"]
    assert all(path.parent == root for _, path, _ in seen)
    assert [tail for _, _, tail in seen] == [data[-64:] for data in files.values()]
    assert staged_files() == []  # and removed afterwards


def test_an_upload_within_the_limits_still_works_as_a_form_post(client_for, dora):
    response = client_for(dora).post(
        ENDPOINTS["ingest"], {"files": [SimpleUploadedFile("IM0", dicom_bytes(ct_dataset(0)))]}
    )
    assert response.status_code == 302


@pytest.mark.parametrize("endpoint", ["ingest", "opinions"])
def test_csrf_is_still_checked_after_the_handlers_are_installed(endpoint, dora):
    """The views are exempt from the middleware's check only to install the upload
    handler first; they check CSRF themselves before reading the form."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(dora)
    files = {"IM0": dicom_bytes(ct_dataset(0))}
    forged = post_files(endpoint, dora, files, client=client)
    assert forged.status_code == 403
    client.get(ENDPOINTS[endpoint])  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    assert token
    genuine = post_files(endpoint, dora, files, client=client, HTTP_X_CSRFTOKEN=token)
    assert accepted(endpoint, genuine) or genuine.status_code == 302, genuine.content[:200]
