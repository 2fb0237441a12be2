"""With answers hidden (a quiz), no endpoint gives the diagnosis away.

Ingest keeps StudyDescription / SeriesDescription (readers of the library want them);
hidden mode must strip them from the page, the DICOM JSON, and the files themselves.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pydicom
from django.urls import reverse
from django.utils import timezone

from opinions.models import AnalysisRequest, ModelOpinion
from tests.platform.factories import make_case
from tests.platform.viewer.conftest import add_series, first_instance

DIAGNOSIS = "Non-ossifying fibroma of distal tibia"


def _case(owner):
    case = make_case(in_library=False, owner=owner, label="quiz-case")
    add_series(
        case, 2, study_description=DIAGNOSIS, series_description=DIAGNOSIS, image_comments="NOF, benign"
    )
    request = AnalysisRequest.objects.create(
        case=case, requested_by=owner, pipeline=case.task, status="done", finished_at=timezone.now()
    )
    ModelOpinion.objects.create(request=request, result={"artefacts": {"segmentation": "mask.npy"}})
    return case, request


def test_hidden_page_has_no_descriptions_and_no_model_output(dora, client_for, settings):
    case, analysis = _case(dora)
    folder = settings.MEDIA_ROOT / analysis.out_dir
    folder.mkdir(parents=True)
    np.save(folder / "mask.npy", np.zeros((2, 32, 32), np.uint8))
    client = client_for(dora)
    shown = client.get(reverse("viewer:case", args=[case.public_id])).content.decode()
    assert DIAGNOSIS in shown and "segmentation" in shown  # not hidden: all there
    hidden = client.get(reverse("viewer:case", args=[case.public_id]) + "?answers=hidden").content.decode()
    assert DIAGNOSIS not in hidden and "quiz-case" not in hidden
    assert "segmentation" not in hidden and '"show_model_output": false' in hidden
    assert "?answers=hidden" in hidden  # the image ids ask for redacted files too
    url = reverse("viewer:artefact-volume", args=[analysis.public_id, "segmentation"])
    assert client.get(url).status_code == 200
    assert client.get(url + "?answers=hidden").status_code == 404


def test_hidden_wado_serves_a_redacted_copy(dora, client_for):
    case, _ = _case(dora)
    instance = first_instance(case)
    client = client_for(dora)
    url = reverse("viewer:wado", args=[instance.sop_uid])
    full = pydicom.dcmread(io.BytesIO(b"".join(client.get(url).streaming_content)))
    assert full.StudyDescription == DIAGNOSIS
    response = client.get(url + "?answers=hidden")
    assert response["ETag"] == f'"{instance.sha256}-redacted"'
    redacted = pydicom.dcmread(io.BytesIO(b"".join(response.streaming_content)))
    for keyword in ("StudyDescription", "SeriesDescription", "ImageComments"):
        assert keyword not in redacted
    assert redacted.SOPInstanceUID == instance.sop_uid
    assert np.array_equal(redacted.pixel_array, full.pixel_array)


def test_policy_setting_forces_hiding_on_dicomweb(dora, client_for, settings):
    from viewer import answers

    case, _ = _case(dora)
    instance = first_instance(case)
    study, series = instance.series.study.study_uid, instance.series.series_uid
    client = client_for(dora)
    metadata_url = f"/dicomweb/studies/{study}/series/{series}/metadata"
    assert DIAGNOSIS in b"".join(client.get(metadata_url).streaming_content).decode()

    settings.VIEWER_ANSWER_POLICY = "tests.platform.viewer.test_answers_hidden.always_quiz"
    answers._policy.cache_clear()
    try:
        body = b"".join(client.get(metadata_url).streaming_content).decode()
        assert DIAGNOSIS not in body and "NOF" not in body
        assert len(json.loads(body)) == 2
        for search in ("/dicomweb/studies", f"/dicomweb/studies/{study}/series"):
            assert DIAGNOSIS not in client.get(search).content.decode()
        retrieved = b"".join(client.get(f"/dicomweb/studies/{study}").streaming_content)
        assert DIAGNOSIS.encode() not in retrieved and b"NOF" not in retrieved
        page = client.get(reverse("viewer:case", args=[case.public_id])).content.decode()
        assert DIAGNOSIS not in page
    finally:
        answers._policy.cache_clear()


def always_quiz(user, case) -> bool:
    return True


def test_synthetic_marker_survives_redaction(alice, client_for):
    case = make_case(label="phantom")
    add_series(case, 1, image_comments="SYNTHETIC PHANTOM", study_description="Chordoma phantom")
    instance = first_instance(case)
    response = client_for(alice).get(reverse("viewer:wado", args=[instance.sop_uid]) + "?answers=hidden")
    ds = pydicom.dcmread(io.BytesIO(b"".join(response.streaming_content)))
    assert ds.ImageComments == "SYNTHETIC PHANTOM" and "StudyDescription" not in ds
