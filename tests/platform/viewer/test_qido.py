"""QIDO-RS matching and paging, and WADO-RS content negotiation (no transcoding)."""

from __future__ import annotations

import datetime as dt

from cases.models import Study
from cases.pseudonyms import case_pseudonym
from tests.platform.factories import make_case
from tests.platform.viewer.conftest import add_series


def _uids(response, tag="0020000D"):
    assert response.status_code == 200, response.content
    return [item[tag]["Value"][0] for item in response.json()]


def test_study_matching(alice, client_for):
    a = make_case(label="ALPHA-1")
    sa = add_series(a, 1).study
    Study.objects.filter(pk=sa.pk).update(study_date=dt.date(2020, 5, 1))
    b = make_case(label="BETA-2")
    sb = add_series(b, 1).study
    client = client_for(alice)
    # PatientID is the case's pseudonym (what the files carry), never its label.
    pa, pb = case_pseudonym(a), case_pseudonym(b)
    assert _uids(client.get("/dicomweb/studies", {"PatientID": pa})) == [sa.study_uid]
    assert _uids(client.get("/dicomweb/studies", {"PatientID": "ALPHA-1"})) == []
    assert _uids(client.get("/dicomweb/studies", {"PatientID": pb[:-2] + "*"})) == [sb.study_uid]
    assert _uids(client.get("/dicomweb/studies", {"00100020": pa[:-1].lower() + "?"})) == [sa.study_uid]
    series_found = client.get(f"/dicomweb/studies/{sb.study_uid}/series", {"PatientID": pb})
    assert _uids(series_found, "0020000E") == [sb.series.get().series_uid]
    assert _uids(client.get("/dicomweb/studies", {"StudyDate": "20200101-20201231"})) == [sa.study_uid]
    both = f"{sa.study_uid},{sb.study_uid}"
    assert sorted(_uids(client.get("/dicomweb/studies", {"StudyInstanceUID": both}))) == sorted(
        [sa.study_uid, sb.study_uid]
    )
    assert len(_uids(client.get("/dicomweb/studies", {"ModalitiesInStudy": "CT"}))) == 2
    assert _uids(client.get("/dicomweb/studies", {"ModalitiesInStudy": "MR"})) == []
    assert len(_uids(client.get("/dicomweb/studies", {"limit": 1, "offset": 1, "includefield": "all"}))) == 1
    assert client.get("/dicomweb/studies", {"StudyDate": "2020-13"}).status_code == 400
    assert client.get("/dicomweb/studies", {"limit": "many"}).status_code == 400


def test_study_attributes(alice, client_for):
    case = make_case(label="GAMMA")
    series = add_series(case, 3, study_description="Pelvis")
    [study] = client_for(alice).get("/dicomweb/studies").json()
    assert study["00100020"]["Value"] == [case_pseudonym(case)]
    assert study["00100010"]["Value"] == [{"Alphabetic": f"ANON^{case_pseudonym(case)}"}]
    assert study["00080061"]["Value"] == ["CT"]
    assert study["00201206"]["Value"] == [1] and study["00201208"]["Value"] == [3]
    assert study["00081030"]["Value"] == ["Pelvis"]
    assert study["00080190"]["Value"] == [f"http://testserver/dicomweb/studies/{series.study.study_uid}"]


def test_instance_matching(alice, client_for):
    series = add_series(make_case(), 5)
    base = f"/dicomweb/studies/{series.study.study_uid}/series/{series.series_uid}/instances"
    client = client_for(alice)
    numbers = [i["00200013"]["Value"][0] for i in client.get(base).json()]
    assert numbers == [1, 2, 3, 4, 5]  # stack order (slice location)
    assert [i["00200013"]["Value"][0] for i in client.get(base, {"InstanceNumber": 3}).json()] == [3]
    assert len(client.get(base, {"limit": 2, "offset": 4}).json()) == 1


def test_retrieve_refuses_transcoding(alice, client_for):
    series = add_series(make_case(), 1)
    url = f"/dicomweb/studies/{series.study.study_uid}/series/{series.series_uid}"
    client = client_for(alice)
    ok = client.get(url, HTTP_ACCEPT='multipart/related; type="application/dicom"; transfer-syntax=*')
    assert ok.status_code == 200 and 'type="application/dicom"' in ok["Content-Type"]
    b"".join(ok.streaming_content)
    native = "1.2.840.10008.1.2.1"  # what add_series stores
    same = client.get(
        url, HTTP_ACCEPT=f'multipart/related; type="application/dicom"; transfer-syntax={native}'
    )
    assert same.status_code == 200
    b"".join(same.streaming_content)
    other = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90'
    assert client.get(url, HTTP_ACCEPT=other).status_code == 406
