"""Upload -> queued -> real worker -> opinion recorded -> result page and PDF, per question.

Real broker (Redis in CI), real worker processes, the real pipelines with tiny models
trained by our own training command on a few phantoms (the `tiny_models` fixture).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from opinions.models import AnalysisRequest, ModelOpinion
from tests.integration.tiny_models import INTEGRATION_TASKS
from tests.integration.workers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def upload(client: Client, files) -> str:
    handles = [open(f, "rb") for f in files]
    try:
        response = client.post(reverse("opinions:new"), {"files": handles})
    finally:
        for h in handles:
            h.close()
    assert response.status_code == 200, response.content
    return response.json()["next"]


@pytest.mark.parametrize("task", INTEGRATION_TASKS)
def test_upload_to_recorded_opinion(task, tiny_models, phantom_studies, workers, dora):
    client = Client()
    client.force_login(dora)
    configure_url = upload(client, phantom_studies[task])
    page = client.get(configure_url)
    assert page.status_code == 200
    # The question was suggested from the images' modality and body part.
    assert f'data-task="{task}"' in page.content.decode()
    response = client.post(configure_url, {"pipeline": task, "age": "61", "sex": "M"})
    assert response.status_code == 302
    analysis = AnalysisRequest.objects.get(requested_by=dora, pipeline=task)
    assert analysis.status == "queued"

    wait_for(
        lambda: AnalysisRequest.objects.filter(pk=analysis.pk, status__in=["done", "failed"]).exists(),
        timeout=300,
        what=f"the {task} opinion",
    )
    analysis.refresh_from_db()
    assert analysis.status == "done", analysis.error
    opinion = ModelOpinion.objects.get(request=analysis)
    assert opinion.result["pipeline"] == task
    assert opinion.synthetic_training is True
    # Tiny test models may call the study out of domain; then the reasons must be given.
    if opinion.result["out_of_domain"]:
        assert opinion.result["reasons"]
    else:
        assert opinion.result["opinions"], "no opinion recorded"
    assert {m["synthetic_training"] for m in opinion.result["models"]} == {True}

    html = client.get(reverse("opinions:detail", args=[analysis.public_id])).content.decode()
    assert "trained on <strong>synthetic phantoms</strong>" in html
    assert "not for clinical use" in html
    pdf = client.get(reverse("opinions:report-pdf", args=[analysis.public_id]))
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
