"""Who may fetch what: every image endpoint, for each named user.

anonymous -> login redirect (pages, wadouri) or 401 (DICOMweb); rita (resident) on dora's
upload and dan (another referrer) -> 404, as if it did not exist; dora (owner) and
alice (admin) -> 200; residents -> 200 on library cases.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.platform.viewer.conftest import first_instance


def urls_for(case) -> dict[str, str]:
    instance = first_instance(case)
    series, study = instance.series, instance.series.study
    sop = instance.sop_uid
    base = f"/dicomweb/studies/{study.study_uid}"
    return {
        "page": reverse("viewer:case", args=[case.public_id]),
        "config": reverse("viewer:case-config", args=[case.public_id]),
        "wado": reverse("viewer:wado", args=[sop]),
        "wado-uri": f"/viewer/wado?requestType=WADO&studyUID={study.study_uid}&seriesUID={series.series_uid}"
        f"&objectUID={sop}&contentType=application/dicom",
        "study-retrieve": base,
        "study-metadata": f"{base}/metadata",
        "series-search": f"{base}/series",
        "instance-search": f"{base}/series/{series.series_uid}/instances",
        "series-metadata": f"{base}/series/{series.series_uid}/metadata",
        "series-retrieve": f"{base}/series/{series.series_uid}",
        "instance-retrieve": f"{base}/series/{series.series_uid}/instances/{sop}",
        "instance-metadata": f"{base}/series/{series.series_uid}/instances/{sop}/metadata",
        "frames": f"{base}/series/{series.series_uid}/instances/{sop}/frames/1",
    }


BROWSER = {"page", "config", "wado", "wado-uri"}
ENDPOINTS = [
    "page",
    "config",
    "wado",
    "wado-uri",
    "study-retrieve",
    "study-metadata",
    "series-search",
    "instance-search",
    "series-metadata",
    "series-retrieve",
    "instance-retrieve",
    "instance-metadata",
    "frames",
]


def _get(client, url):
    response = client.get(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)  # drain, closes the file
    return response


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_is_sent_to_login_or_challenged(endpoint, cases, client_for):
    response = _get(client_for(None), urls_for(cases["dora"])[endpoint])
    if endpoint in BROWSER:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_resident_cannot_see_a_referrer_upload(endpoint, cases, rita, client_for):
    assert _get(client_for(rita), urls_for(cases["dora"])[endpoint]).status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_other_referrer_cannot_see_dora_upload(endpoint, cases, dan, client_for):
    assert _get(client_for(dan), urls_for(cases["dora"])[endpoint]).status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_owner_sees_her_upload(endpoint, cases, dora, client_for):
    assert _get(client_for(dora), urls_for(cases["dora"])[endpoint]).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_admin_sees_any_case(endpoint, cases, alice, client_for):
    assert _get(client_for(alice), urls_for(cases["dora"])[endpoint]).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_resident_sees_library_case(endpoint, cases, sam, client_for):
    assert _get(client_for(sam), urls_for(cases["library"])[endpoint]).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_referrer_cannot_see_library_case(endpoint, cases, dora, client_for):
    # Referrers see only their own uploads, library or not.
    assert _get(client_for(dora), urls_for(cases["library"])[endpoint]).status_code == 404


def test_searches_list_only_visible_studies(cases, dora, dan, rita, alice, client_for):
    def study_uids(user):
        response = client_for(user).get("/dicomweb/studies")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/dicom+json"
        return {s["0020000D"]["Value"][0] for s in response.json()}

    lib, mine = (first_instance(cases[k]).series.study.study_uid for k in ("library", "dora"))
    assert study_uids(dora) == {mine}
    assert study_uids(dan) == set()
    assert study_uids(rita) == {lib}
    assert study_uids(alice) == {lib, mine}


def test_all_series_and_instances_searches_are_filtered(cases, rita, client_for):
    client = client_for(rita)
    series = client.get("/dicomweb/series").json()
    instances = client.get("/dicomweb/instances").json()
    lib_study = first_instance(cases["library"]).series.study.study_uid
    assert {s["0020000D"]["Value"][0] for s in series} == {lib_study}
    assert len(instances) == 3 and {i["0020000D"]["Value"][0] for i in instances} == {lib_study}


def test_basic_auth_grants_the_same_rights(cases, dora):
    import base64

    from django.test import Client

    from tests.conftest import PASSWORD

    def auth(user, password=PASSWORD):
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    urls = urls_for(cases["dora"])
    client = Client()
    assert client.get(urls["study-metadata"], **auth("dora")).status_code == 200
    assert client.get(urls["study-metadata"], **auth("dora", "wrong")).status_code == 401
    assert client.get(urls_for(cases["library"])["study-metadata"], **auth("dora")).status_code == 404
    assert client.get(urls["wado"], **auth("dora")).status_code == 200
    # Wrong credentials on a browser endpoint: a challenge, not a login page.
    assert client.get(urls["wado"], **auth("dora", "wrong")).status_code == 401


def test_access_changes_apply_to_the_next_file(cases, sam, dora, client_for):
    # The whole-file endpoint decides per request, remembering nothing: a case leaving the
    # library, or a referral changing hands, shuts the next file out.
    library, upload = cases["library"], cases["dora"]
    resident, owner = client_for(sam), client_for(dora)
    lib_url, upload_url = urls_for(library)["wado"], urls_for(upload)["wado"]
    assert _get(resident, lib_url).status_code == 200
    assert _get(owner, upload_url).status_code == 200
    library.in_library = False
    library.save(update_fields=["in_library"])
    upload.owner = None
    upload.save(update_fields=["owner"])
    assert _get(resident, lib_url).status_code == 404
    assert _get(owner, upload_url).status_code == 404
    # The query form checks that the study and series named are the instance's own.
    wado_uri = urls_for(library)["wado-uri"]
    library.in_library = True
    library.save(update_fields=["in_library"])
    assert _get(resident, wado_uri).status_code == 200
    other_study = first_instance(upload).series.study.study_uid
    study_uid = first_instance(library).series.study.study_uid
    assert _get(resident, wado_uri.replace(study_uid, other_study)).status_code == 404
