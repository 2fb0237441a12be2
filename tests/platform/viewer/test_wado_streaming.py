"""WADO-URI: the stored file, streamed, with the headers content addressing allows."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse
from django.urls import reverse

from tests.platform.viewer.conftest import first_instance


def test_wado_streams_the_stored_bytes(cases, dora, client_for):
    instance = first_instance(cases["dora"])
    response = client_for(dora).get(reverse("viewer:wado", args=[instance.sop_uid]))
    assert response.status_code == 200
    assert isinstance(response, FileResponse) and response.streaming
    assert response["Content-Type"] == "application/dicom"
    assert "Content-Encoding" not in response  # never gzipped on the fly
    body = b"".join(response.streaming_content)
    assert body == (Path(settings.MEDIA_ROOT) / instance.path).read_bytes()
    assert int(response["Content-Length"]) == instance.size
    assert response["ETag"] == f'"{instance.sha256}"'
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"


def test_wado_conditional_get_answers_304(cases, dora, client_for):
    instance = first_instance(cases["dora"])
    url = reverse("viewer:wado", args=[instance.sop_uid])
    client = client_for(dora)
    response = client.get(url, HTTP_IF_NONE_MATCH=f'"{instance.sha256}"')
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{instance.sha256}"'
    assert client.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_gzip_is_not_negotiated(cases, dora, client_for):
    instance = first_instance(cases["dora"])
    response = client_for(dora).get(
        reverse("viewer:wado", args=[instance.sop_uid]), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert "Content-Encoding" not in response
    b"".join(response.streaming_content)
    response.close()


def test_standard_query_form(cases, dora, client_for):
    instance = first_instance(cases["dora"])
    client = client_for(dora)
    base = f"/viewer/wado?requestType=WADO&objectUID={instance.sop_uid}"
    response = client.get(base + "&contentType=application/dicom")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (Path(settings.MEDIA_ROOT) / instance.path).read_bytes()
    assert client.get(base + "&contentType=image/jpeg").status_code == 406
    assert client.get("/viewer/wado?objectUID=" + instance.sop_uid).status_code == 400
    # The study and series named must be the instance's own.
    assert client.get(base + "&seriesUID=1.2.3.4").status_code == 404
    assert client.get(base + "&transferSyntax=1.2.840.10008.1.2.4.90").status_code == 406


def test_missing_file_is_404_not_500(cases, alice, client_for):
    instance = first_instance(cases["dora"])
    (Path(settings.MEDIA_ROOT) / instance.path).unlink()
    client = client_for(alice)
    assert client.get(reverse("viewer:wado", args=[instance.sop_uid])).status_code == 404
    series = f"/dicomweb/studies/{instance.series.study.study_uid}/series/{instance.series.series_uid}"
    assert client.get(series + "/metadata").status_code == 404
    assert client.get(series).status_code == 404
