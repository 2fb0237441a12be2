"""Recording worker results: once per request, and what the result page shows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opinions import services
from opinions.models import AnalysisRequest, ModelOpinion
from tests.platform.factories import make_case
from tests.platform.opinions.results import sacral_result

pytestmark = pytest.mark.django_db


def make_request(owner, **kwargs) -> AnalysisRequest:
    case = make_case(in_library=False, owner=owner, diagnosis=None, **kwargs)
    return AnalysisRequest.objects.create(case=case, requested_by=owner, pipeline="sacral-ct")


def test_a_redelivered_result_is_recorded_once(dora):
    analysis = make_request(dora)
    result = sacral_result(str(analysis.public_id))
    first = services.record_result(result)
    second = services.record_result(result)
    assert first.pk == second.pk
    assert ModelOpinion.objects.count() == 1
    analysis.refresh_from_db()
    assert analysis.status == "done"
    assert analysis.finished_at is not None


def test_a_result_for_an_unknown_request_is_dropped(db):
    assert services.record_result(sacral_result("00000000-0000-0000-0000-000000000000")) is None
    assert ModelOpinion.objects.count() == 0


def test_failure_is_recorded_with_its_reason_but_never_over_a_result(dora):
    analysis = make_request(dora)
    services.record_failure(request_id=str(analysis.public_id), reason="RuntimeError: out of memory")
    analysis.refresh_from_db()
    assert (analysis.status, analysis.error) == ("failed", "RuntimeError: out of memory")
    done = make_request(dora)
    services.record_result(sacral_result(str(done.public_id)))
    services.record_failure(request_id=str(done.public_id), reason="late failure")
    done.refresh_from_db()
    assert done.status == "done"


def test_result_page_shows_probabilities_synthetic_notice_and_disclaimer(client_for, dora):
    analysis = make_request(dora)
    services.record_result(sacral_result(str(analysis.public_id)))
    html = client_for(dora).get(reverse("opinions:detail", args=[analysis.public_id])).content.decode()
    assert "Chordoma" in html and "70.0%" in html
    assert "synthetic phantoms" in html
    assert "not for clinical use" in html
    assert 'id="ood-warning"' not in html


def test_out_of_domain_result_is_flagged(client_for, dora):
    analysis = make_request(dora)
    services.record_result(sacral_result(str(analysis.public_id), out_of_domain=True))
    html = client_for(dora).get(reverse("opinions:detail", args=[analysis.public_id])).content.decode()
    assert 'id="ood-warning"' in html and "no hip bones were found" in html


def test_similar_cases_are_library_cases_ranked_by_embedding(client_for, dora, alice):
    near = make_case(label="near-case", diagnosis="chordoma")
    far = make_case(label="far-case", diagnosis="chondrosarcoma")
    for case, vector in ((near, [0.9, 0.1, 0.0]), (far, [0.0, 0.0, 1.0])):
        req = AnalysisRequest.objects.create(case=case, requested_by=alice, pipeline="sacral-ct")
        services.record_result(sacral_result(str(req.public_id), embedding=vector))
    analysis = make_request(dora)
    services.record_result(sacral_result(str(analysis.public_id), embedding=[1.0, 0.0, 0.0]))
    html = client_for(dora).get(reverse("opinions:detail", args=[analysis.public_id])).content.decode()
    assert html.index("near-case") < html.index("far-case")


def test_pdf_report_is_a_pdf_with_the_call(client_for, dora):
    analysis = make_request(dora)
    services.record_result(sacral_result(str(analysis.public_id)))
    response = client_for(dora).get(reverse("opinions:report-pdf", args=[analysis.public_id]))
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    assert data.startswith(b"%PDF")
    from opinions.report import report_html

    html = report_html(analysis)
    assert "Chordoma" in html and "synthetic phantoms" in html


def test_requests_are_private_to_their_referrer(client_for, dora, dan, rita, alice):
    analysis = make_request(dora)
    services.record_result(sacral_result(str(analysis.public_id)))
    for name in ("opinions:detail", "opinions:status", "opinions:report-pdf"):
        url = reverse(name, args=[analysis.public_id])
        assert client_for(dan).get(url).status_code == 404, name
        assert client_for(rita).get(url).status_code == 404, name
        assert client_for(alice).get(url).status_code == 200, name
        assert client_for(dora).get(url).status_code == 200, name


def test_admin_promotes_a_finished_request_into_the_library(client_for, dora, alice, rita):
    analysis = make_request(dora)
    services.record_result(sacral_result(str(analysis.public_id)))
    url = reverse("opinions:promote", args=[analysis.public_id])
    assert client_for(dora).post(url, {}).status_code == 403
    response = client_for(alice).post(
        url,
        {"diagnosis": "chordoma", "behaviour": "malignant", "confirmation": "biopsy", "certainty": "certain"},
    )
    assert response.status_code == 302
    case = analysis.case
    case.refresh_from_db()
    assert case.in_library and case.source == "promoted"
    assert case.histopathology.confirmation == "biopsy"
    assert case.histopathology.confirmed_by == alice
    assert client_for(rita).get(reverse("cases:detail", args=[case.public_id])).status_code == 200


def test_location_diagram_puts_the_patients_right_on_the_viewers_left():
    from opinions.presentation import location_diagram

    right_sided = location_diagram({"centroid": [0.4, 0.0, 0.1], "side": "right"})
    left_sided = location_diagram({"centroid": [-0.4, 0.0, 0.1], "side": "left"})
    assert right_sided["tumour"]["x"] < right_sided["midline_x"] < left_sided["tumour"]["x"]
    # Superior is up in the picture.
    low = location_diagram({"centroid": [0.0, 0.0, -0.3]})
    assert low["tumour"]["y"] > right_sided["tumour"]["y"]
    assert location_diagram(None) is None
