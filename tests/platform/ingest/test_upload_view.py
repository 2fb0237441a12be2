"""The upload page: who may use it, real files through HTTP, errors as 400 with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.models import Case, Instance, Series
from cohorts.models import Cohort
from tests.platform.ingest.helpers import ct_dataset, dicom_bytes, make_zip, snapshot

pytestmark = pytest.mark.django_db
URL = "/ingest/"


def files_of(*paths: Path) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]


def series_files(count: int = 3) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"IM{i}", dicom_bytes(ct_dataset(i))) for i in range(count)]


def test_url_is_named():
    assert reverse("ingest:upload") == URL


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    response = client.post(URL, {"files": series_files(1)})
    assert response.status_code == 302
    assert Case.objects.count() == 0


def test_resident_is_forbidden(client_for, rita):
    assert client_for(rita).get(URL).status_code == 403
    assert client_for(rita).post(URL, {"files": series_files(1)}).status_code == 403
    assert Case.objects.count() == 0


def test_referrer_upload_becomes_their_own_case(client_for, dora):
    client = client_for(dora)
    page = client.get(URL)
    assert page.status_code == 200 and b'name="files"' in page.content
    assert b'name="cohort"' not in page.content  # admin-only options are hidden
    response = client.post(URL, {"files": series_files(3), "library": "on"})
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[case.public_id])
    assert (case.owner, case.in_library, case.source) == (dora, False, Case.Source.UPLOAD)
    assert Instance.objects.count() == 3
    assert client.get(response["Location"]).status_code == 200


def test_admin_may_file_into_a_cohort_and_the_library(client_for, alice):
    Cohort.objects.create(name="sacral-pilot", task="sacral-ct")
    response = client_for(alice).post(
        URL,
        {"files": series_files(2), "cohort": "sacral-pilot", "split": "test", "centre": "Basel", "library": "on",
         "label": "SAC-001"},
    )  # fmt: skip
    assert response.status_code == 302
    case = Case.objects.get()
    assert (case.label, case.in_library) == ("SAC-001", True)
    membership = case.memberships.get()
    assert (membership.cohort.name, membership.split, membership.centre) == ("sacral-pilot", "test", "Basel")


def test_real_files_through_http(client_for, dora, real_data):
    client = client_for(dora)
    ct = sorted((real_data / "ct_dicom_series_j2k").iterdir())
    assert client.post(URL, {"files": files_of(*ct)}).status_code == 302
    xray = real_data / "radiograph_nof_tibia" / "RG3_J2KR.dcm"
    assert client.post(URL, {"files": files_of(xray)}).status_code == 302
    nifti = real_data / "ct_pelvis_totalseg" / "ct.nii.gz"
    assert client.post(URL, {"files": files_of(nifti)}).status_code == 302
    counts = {s.modality + "/" + s.source_format: s.instances.count() for s in Series.objects.all()}
    assert counts == {"CT/dicom": 20, "CR/dicom": 1, "CT/nifti": 112}
    cr = Series.objects.get(modality="CR")
    assert cr.photometric == "MONOCHROME1"
    stored = pydicom.dcmread(Path(settings.MEDIA_ROOT) / cr.instances.get().path)
    assert np.array_equal(stored.pixel_array, pydicom.dcmread(xray).pixel_array)
    assert set(Case.objects.values_list("owner__username", flat=True)) == {"dora"}


def test_batches_join_one_case_as_json(client_for, dora):
    client = client_for(dora)
    first = client.post(URL, {"files": series_files(2)}, headers={"Accept": "application/json"})
    assert first.status_code == 201
    body = first.json()
    more = [SimpleUploadedFile(f"IM{i}", dicom_bytes(ct_dataset(i))) for i in range(2, 5)]
    second = client.post(URL, {"files": more, "case": body["case"]}, headers={"Accept": "application/json"})
    assert second.status_code == 200
    assert second.json()["instances"] == 3
    assert Series.objects.get().instances.count() == 5


def test_referrer_cannot_add_to_someone_elses_case(client_for, dora, dan):
    client_for(dora).post(URL, {"files": series_files(1)})
    case = Case.objects.get()
    client = client_for(dan)
    check = snapshot()
    response = client.post(URL, {"files": series_files(2), "case": str(case.public_id)})
    assert response.status_code == 400
    assert b"No such case of yours" in response.content
    check()


def test_bad_input_shows_the_reason_with_400(client_for, dora, tmp_path):
    client = client_for(dora)
    check = snapshot()
    response = client.post(URL, {"files": [SimpleUploadedFile("notes.txt", b"hello")]})
    assert response.status_code == 400
    assert b"Not an image: notes.txt" in response.content
    bomb = make_zip(tmp_path / "b.zip", {"a": b"\0" * (8 * 1024 * 1024)})
    response = client.post(URL, {"files": files_of(bomb)}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "zip_bomb"
    check()


def test_oversized_upload_refused_before_reading(client_for, dora, settings):
    settings.UPLOAD_MAX_BYTES = 10
    client = client_for(dora)
    check = snapshot()
    big = SimpleUploadedFile("IM0", b"\0" * (2 * 1024 * 1024))
    response = client.post(URL, {"files": [big]})
    assert response.status_code == 413
    assert b"The upload is too large" in response.content
    check()
