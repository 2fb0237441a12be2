"""The viewer page and the JSON config it hands the bundle (static/viewer/viewer.js)."""

from __future__ import annotations

import json

import numpy as np
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from opinions.models import AnalysisRequest, ModelOpinion
from tests.platform.factories import make_case
from tests.platform.viewer.conftest import add_series


def _config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="viewer-config" type="application/json">') + len(
        '<script id="viewer-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def _finished_analysis(case, user, artefacts: dict, **result) -> AnalysisRequest:
    request = AnalysisRequest.objects.create(
        case=case, requested_by=user, pipeline=case.task, status="done", finished_at=timezone.now()
    )
    ModelOpinion.objects.create(request=request, result={"artefacts": artefacts, **result})
    return request


def _write_npy(request, name, array):
    folder = settings.MEDIA_ROOT / request.out_dir
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / name, array)


def test_page_renders_the_config_the_bundle_expects(dora, client_for):
    case = make_case(in_library=False, owner=dora)
    series = add_series(case, 4, series_description="Axial 3 mm")
    response = client_for(dora).get(reverse("viewer:case", args=[case.public_id]))
    assert response.status_code == 200
    assert "build/viewer/viewer.js" in response.content.decode()
    config = _config(response)
    assert config["wasm_base_path"] == "http://testserver/static/build/viewer/"
    [entry] = config["series"]
    assert entry["series_uid"] == series.series_uid
    assert entry["description"] == "Axial 3 mm"
    assert entry["is_volume"] is True and entry["photometric"] == "MONOCHROME2"
    assert (entry["window_center"], entry["window_width"]) == (40, 400)
    assert entry["thumbnail_url"] == reverse(
        "cases:series-thumbnail", args=[case.public_id, series.series_uid]
    )
    # Sorted by slice location although stored in reverse order.
    expected = list(series.instances.order_by("slice_location").values_list("sop_uid", flat=True))
    assert entry["image_ids"] == [f"wadouri:http://testserver/viewer/wado/{sop}" for sop in expected]
    assert entry["initial_index"] == 2  # opens on the middle slice of 4
    assert config["overlays"] == {} and config["show_model_output"] is False


def test_overlays_of_the_latest_finished_opinion(dora, client_for):
    case = make_case(in_library=False, owner=dora)
    series = add_series(case, 3)
    analysis = _finished_analysis(
        case,
        dora,
        {"segmentation": "mask.npy", "gradcam": "gradcam.npy", "report": "../../escape.npy"},
        marker={"world": [1, 2, 3], "label": "Lesion"},
    )
    _write_npy(analysis, "mask.npy", np.zeros((3, 32, 32), np.uint8))
    _write_npy(analysis, "gradcam.npy", np.full((3, 32, 32), 0.5, np.float32))
    client = client_for(dora)
    config = client.get(reverse("viewer:case-config", args=[case.public_id])).json()
    assert config["show_model_output"] is True
    overlays = config["overlays"]
    assert overlays["labelmap"]["series_uid"] == series.series_uid
    assert set(overlays["heatmaps"]) == {"gradcam"}
    assert overlays["marker"] == {"world": [1.0, 2.0, 3.0], "label": "Lesion"}
    header = client.get(overlays["heatmaps"]["gradcam"]["url"]).json()
    assert header["shape"] == [3, 32, 32] and header["dtype"] == "float32"
    data = b"".join(client.get(header["data_url"]).streaming_content)
    assert np.frombuffer(data, np.float32).reshape(3, 32, 32).mean() == 0.5


def test_residents_never_get_model_output(rita, alice, client_for):
    case = make_case(in_library=True)
    add_series(case, 2)
    analysis = _finished_analysis(case, alice, {"segmentation": "mask.npy"})
    _write_npy(analysis, "mask.npy", np.zeros((2, 32, 32), np.uint8))
    client = client_for(rita)
    config = client.get(reverse("viewer:case-config", args=[case.public_id])).json()
    assert config["overlays"] == {} and config["show_model_output"] is False
    url = reverse("viewer:artefact-volume", args=[analysis.public_id, "segmentation"])
    assert client.get(url).status_code == 404
    assert client_for(alice).get(url).status_code == 200


def test_artefact_paths_cannot_escape_the_analysis_folder(alice, client_for):
    case = make_case()
    add_series(case, 1)
    secret = settings.MEDIA_ROOT / "secret.npy"
    np.save(secret, np.zeros((1, 2, 2), np.uint8))
    analysis = _finished_analysis(
        case, alice, {"up": "../../secret.npy", "absolute": str(secret), "mask": "mask.npy"}
    )
    _write_npy(analysis, "mask.npy", np.zeros((1, 2, 2), np.uint8))
    client = client_for(alice)
    for name in ("up", "absolute", "nothing"):
        assert client.get(reverse("viewer:artefact", args=[analysis.public_id, name])).status_code == 404
    ok = client.get(reverse("viewer:artefact", args=[analysis.public_id, "mask"]))
    assert ok.status_code == 200
    assert (
        b"".join(ok.streaming_content) == (settings.MEDIA_ROOT / analysis.out_dir / "mask.npy").read_bytes()
    )


def test_study_url_redirects_to_its_case(dora, client_for):
    case = make_case(in_library=False, owner=dora)
    series = add_series(case, 1)
    response = client_for(dora).get(reverse("viewer:study", args=[series.study.study_uid]))
    assert response.status_code == 302
    assert response["Location"] == reverse("viewer:case", args=[case.public_id])
