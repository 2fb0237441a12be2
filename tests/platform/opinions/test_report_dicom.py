"""The report as a DICOM Encapsulated PDF: valid, in the de-identified study, no PHI, private."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from django.conf import settings
from django.urls import reverse

from cases.models import Instance, Study
from opinions import services
from opinions.models import AnalysisRequest
from opinions.report_dicom import ENCAPSULATED_PDF, encapsulated_pdf
from tests.platform.opinions.results import sacral_result

pytestmark = pytest.mark.django_db

# Identifying values planted in the uploaded files; none may reach the report object.
PHI = {
    "PatientName": "Doe^Jane^Marie",
    "PatientID": "MRN-4711-0815",
    "PatientBirthDate": "19610304",
    "AccessionNumber": "ACC-99887766",
    "InstitutionName": "St Elsewhere Hospital",
    "ReferringPhysicianName": "Kildare^James",
    "StudyID": "STUDY-31337",
}


@pytest.fixture
def uploaded(tmp_path, real_data, dora):
    """Three slices of the real J2K CT with planted PHI, ingested like an upload by dora."""
    from ingest.services import ingest_paths

    folder = tmp_path / "upload"
    folder.mkdir()
    for source in sorted((real_data / "ct_dicom_series_j2k").iterdir())[:3]:
        ds = pydicom.dcmread(source)
        for keyword, value in PHI.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / source.name)
    case = ingest_paths([folder], user=dora, owner=dora, in_library=False).case
    analysis = AnalysisRequest.objects.create(case=case, requested_by=dora, pipeline="sacral-ct")
    services.record_result(sacral_result(str(analysis.public_id)))
    return analysis


def _download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def test_report_dicom_is_valid_and_wraps_the_served_pdf(uploaded, client_for, dora, tmp_path):
    assert shutil.which("dciodvfy"), "dciodvfy missing: `make test` installs Debian's dicom3tools"
    client = client_for(dora)
    dcm = _download(client, reverse("opinions:report-dicom", args=[uploaded.public_id]))
    pdf = _download(client, reverse("opinions:report-pdf", args=[uploaded.public_id]))
    path = tmp_path / "report.dcm"
    path.write_bytes(dcm)

    check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    output = check.stdout + check.stderr
    assert "EncapsulatedPDF" in output, output  # dciodvfy recognised the IOD
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert errors == [], output

    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == ENCAPSULATED_PDF
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert pdf.startswith(b"%PDF")
    assert encapsulated_pdf(path) == pdf


def test_report_joins_the_deidentified_study_and_carries_no_phi(uploaded, client_for, dora, tmp_path):
    dcm = _download(client_for(dora), reverse("opinions:report-dicom", args=[uploaded.public_id]))
    path = tmp_path / "report.dcm"
    path.write_bytes(dcm)
    ds = pydicom.dcmread(path)

    study = Study.objects.get(case=uploaded.case)
    stored = pydicom.dcmread(
        Path(settings.MEDIA_ROOT) / Instance.objects.filter(series__study=study).first().path,
        stop_before_pixels=True,
    )
    assert ds.StudyInstanceUID == study.study_uid == stored.StudyInstanceUID
    assert (ds.PatientID, str(ds.PatientName)) == (stored.PatientID, str(stored.PatientName))
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.StudyDate == stored.StudyDate
    # A new series and instance of its own, not a copy of an image's UIDs.
    assert ds.SeriesInstanceUID != stored.SeriesInstanceUID
    assert ds.SOPInstanceUID not in set(Instance.objects.values_list("sop_uid", flat=True))

    pdf = encapsulated_pdf(path)
    header = dcm.replace(pdf, b"")
    for keyword, value in PHI.items():
        for fragment in {value, value.replace("^", " "), value.split("^")[0]}:
            assert fragment.encode() not in header, f"{keyword} leaked into the report's DICOM header"
            # The PDF is mostly compressed bytes, where a short string such as "Doe" turns
            # up by chance (it did, in one CI run); look there only for fragments too long
            # to do so.
            if len(fragment) >= 6:
                assert fragment.encode() not in pdf, f"{keyword} leaked into the report's PDF"


def test_report_dicom_is_private_to_the_request(uploaded, client_for, dora, dan, rita, alice):
    from rest_framework.authtoken.models import Token

    url = reverse("opinions:report-dicom", args=[uploaded.public_id])
    api_url = reverse("api-request-report-dicom", args=[uploaded.public_id])
    assert client_for(dan).get(url).status_code == 404
    assert client_for(rita).get(url).status_code == 404
    assert client_for(None).get(url).status_code in (302, 403)
    assert client_for(alice).get(url).status_code == 200

    def api_get(user):
        token = Token.objects.create(user=user)
        return client_for(None).get(api_url, HTTP_AUTHORIZATION=f"Token {token.key}")

    assert api_get(dan).status_code == 404
    assert api_get(rita).status_code == 403  # residents may not use the second-opinion API at all
    response = api_get(dora)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    assert b"".join(response.streaming_content)[128:132] == b"DICM"


def test_no_report_before_the_analysis_has_finished(client_for, dora, uploaded):
    pending = AnalysisRequest.objects.create(case=uploaded.case, requested_by=dora, pipeline="sacral-ct")
    assert client_for(dora).get(reverse("opinions:report-dicom", args=[pending.public_id])).status_code == 404


def test_openapi_schema_lists_the_dicom_report(db):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    dicom = paths["/api/v1/requests/{request_id}/report.dcm"]["get"]
    assert "application/dicom" in dicom["responses"]["200"]["content"]
