"""The DICOMweb subset answers a real outside client (dicomweb-client over loopback HTTP)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from cases.models import Instance
from cases.pseudonyms import case_pseudonym
from tests.conftest import PASSWORD
from tests.platform.factories import make_case
from tests.platform.viewer.conftest import add_series


@pytest.fixture(autouse=True)
def _pydicom_validation_restored():
    """dicomweb-client sets pydicom's validation modes to RAISE around its parsers and
    restores them only when they return, not when they raise; a failed call (these tests
    provoke 403s) would leave later tests writing DICOM under RAISE."""
    from pydicom import config

    modes = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
    yield
    config.settings.reading_validation_mode, config.settings.writing_validation_mode = modes


@pytest.fixture
def stored(transactional_db, dora, dan):
    case = make_case(in_library=False, owner=dora, label="dora-dw")
    series = add_series(case, 4, study_description="Pelvis CT")
    other = make_case(in_library=True, label="lib-dw")
    add_series(other, 2)
    return series


def _client(live_server, username):
    session = requests.Session()
    session.auth = (username, PASSWORD)
    return DICOMwebClient(url=live_server.url + "/dicomweb", session=session)


def test_search_retrieve_and_metadata_with_dicomweb_client(stored, live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = _client(live_server, "dora")
    study_uid, series_uid = stored.study.study_uid, stored.series_uid

    studies = client.search_for_studies()
    assert [s["0020000D"]["Value"][0] for s in studies] == [study_uid]  # only dora's own
    assert studies[0]["00201208"]["Value"] == [4]
    # PatientID is the case's pseudonym, as in the files; the label matches nothing.
    assert client.search_for_studies(search_filters={"PatientID": case_pseudonym(stored.study.case)})
    assert client.search_for_studies(search_filters={"PatientID": "dora-dw"}) == []
    assert client.search_for_studies(search_filters={"PatientID": "nobody"}) == []

    series = client.search_for_series(study_instance_uid=study_uid)
    assert [s["0020000E"]["Value"][0] for s in series] == [series_uid]
    assert client.search_for_series(search_filters={"Modality": "CT"})

    instances = client.search_for_instances(study_instance_uid=study_uid, series_instance_uid=series_uid)
    assert len(instances) == 4
    page = client.search_for_instances(
        study_instance_uid=study_uid, series_instance_uid=series_uid, limit=2, offset=1
    )
    assert len(page) == 2

    metadata = client.retrieve_series_metadata(study_uid, series_uid)
    stored_rows = {i.sop_uid: i for i in Instance.objects.filter(series=stored)}
    assert {m["00080018"]["Value"][0] for m in metadata} == set(stored_rows)
    for m in metadata:
        assert "InlineBinary" not in m.get("7FE00010", {})
        # dicomweb-client sends "Host: localhost" without the port, so compare paths only.
        uri = m["7FE00010"]["BulkDataURI"]
        assert (
            uri.startswith("http://localhost") and "/dicomweb/studies/" in uri and uri.endswith("/frames/1")
        )
        # The study description is not an answer here (answers are not hidden).
        assert m["00081030"]["Value"] == ["Pelvis CT"]

    for instance_ds in client.retrieve_series(study_uid, series_uid):
        row = stored_rows[instance_ds.SOPInstanceUID]
        expected = pydicom.dcmread(Path(settings.MEDIA_ROOT) / row.path)
        assert instance_ds.SeriesInstanceUID == series_uid
        assert instance_ds.PixelData == expected.PixelData

    sop = next(iter(stored_rows))
    one = client.retrieve_instance(study_uid, series_uid, sop)
    assert one.SOPInstanceUID == sop
    assert client.retrieve_instance_metadata(study_uid, series_uid, sop)["00080018"]["Value"] == [sop]
    assert len(client.retrieve_study(study_uid)) == 4
    assert len(client.retrieve_study_metadata(study_uid)) == 4

    frame = client.retrieve_instance_frames(study_uid, series_uid, sop, frame_numbers=[1])[0]
    assert frame == pydicom.dcmread(Path(settings.MEDIA_ROOT) / stored_rows[sop].path).PixelData


def test_dicomweb_client_cannot_reach_other_cases(stored, live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = _client(live_server, "dan")
    assert client.search_for_studies() == []
    with pytest.raises(requests.HTTPError) as err:
        client.retrieve_series_metadata(stored.study.study_uid, stored.series_uid)
    assert err.value.response.status_code == 404
    bad = _client(live_server, "dora")
    bad._session.auth = ("dora", "wrong password")
    with pytest.raises(requests.HTTPError) as err:
        bad.search_for_studies()
    assert err.value.response.status_code == 401
