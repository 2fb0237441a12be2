"""Browse mode: the serving model's opinion on library cases, kept current."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from modelhub.models import ModelVersion
from modelhub.services import set_serving
from opinions.models import AnalysisRequest
from teaching import selectors, services
from tests.platform.teaching.helpers import held_out_case, make_opinion

pytestmark = pytest.mark.django_db


def version(name="teach-net", v="1", task="bone-xray", serve=True):
    mv = ModelVersion.objects.create(
        task=task, name=name, version=v, sha256="ab" * 32, synthetic_training=True
    )
    return set_serving(mv) if serve else mv


def test_opinion_current_stale_and_wrong():
    case = held_out_case(task="bone-xray", diagnosis="tuberculosis", with_image=True)  # truth: infection
    v1 = version(v="1")
    make_opinion(case, {"tumour": 0.8, "infection": 0.2}, version="1")
    view = selectors.library_opinion(case)
    assert (view.stale, view.wrong, view.model_class, view.truth_class) == (
        False,
        True,
        "tumour",
        "infection",
    )
    assert view.synthetic_training and view.versions[0]["version"] == "1"
    set_serving(version(v="2", serve=False))
    v1.refresh_from_db()
    assert v1.status == ModelVersion.Status.RETIRED
    view = selectors.library_opinion(case)
    assert view.stale is True and view.serving == ["teach-net v2"]


def test_analyse_library_queues_only_what_is_missing(monkeypatch):
    queued = []
    monkeypatch.setattr(
        "opinions.services.submit_analysis",
        lambda *, case, pipeline, user=None, queue="gpu": queued.append((case, pipeline, queue)) or case,
    )
    fresh = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    stale = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    missing = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    busy = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    held_out_case(task="bone-xray", diagnosis="osteosarcoma")  # no images: nothing to analyse
    held_out_case(task="sacral-ct", diagnosis="chordoma", with_image=True)  # no serving sacral model
    version(v="2")
    make_opinion(fresh, {"tumour": 0.6, "infection": 0.4}, version="2")
    make_opinion(stale, {"tumour": 0.6, "infection": 0.4}, version="1")
    AnalysisRequest.objects.create(case=busy, pipeline="bone-xray")  # queued already
    services.analyse_library()
    assert sorted(c.pk for c, _, _ in queued) == sorted([stale.pk, missing.pk])
    assert {p for _, p, _ in queued} == {"bone-xray"}
    # Library re-analysis waits behind second-opinion requests (inference_worker/queues.py).
    assert {q for _, _, q in queued} == {"gpu-backfill"}


def test_a_version_starting_to_serve_triggers_analysis(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.TEACHING_AUTO_ANALYSE = True
    calls = []
    monkeypatch.setattr("teaching.services.analyse_library", lambda cases=None: calls.append(list(cases)))
    case = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    calls.clear()  # the case's own "added to the library" call
    with django_capture_on_commit_callbacks(execute=True):
        version(v="3")
    assert calls and case in calls[-1]
    with django_capture_on_commit_callbacks(execute=True):
        held_out_case(task="bone-xray", diagnosis="tuberculosis")
    assert len(calls[-1]) == 1 and calls[-1][0].histopathology is not None


def test_case_opinion_include_renders_the_marks():
    case = held_out_case(task="bone-xray", diagnosis="tuberculosis", with_image=True)
    version(v="1")
    make_opinion(case, {"tumour": 0.8, "infection": 0.2}, version="1")
    html = Template("{% load teaching %}{% case_opinion case %}").render(Context({"case": case}))
    assert 'id="model-wrong"' in html and "model wrong" in html
    assert "synthetic phantoms" in html and "teach-net v1" in html and "80.0%" in html
    version(v="2")
    html = Template("{% load teaching %}{% case_opinion case %}").render(Context({"case": case}))
    assert "Stale:" in html and "teach-net v2" in html


def test_case_opinion_include_is_empty_during_a_read(rita, alice, rf):
    from teaching.models import Read

    case = held_out_case(task="bone-xray", diagnosis="tuberculosis", with_image=True)
    make_opinion(case, {"tumour": 0.8, "infection": 0.2})
    s, _ = services.create_set(created_by=alice, title="x", task="bone-xray")
    read = services.start_read(user=rita, item=s.items.get(), kind=Read.Kind.QUIZ)
    request = rf.get("/")
    request.user = rita
    template = Template("{% load teaching %}{% case_opinion case %}")
    assert "model's opinion" not in template.render(Context({"case": case, "request": request}))
    services.commit_read(read=read, diagnosis="tumour", malignant=False, certainty="possible")
    assert "model's opinion" in template.render(Context({"case": case, "request": request}))


def test_analyse_library_command(monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    monkeypatch.setattr("teaching.management.commands.analyse_library.analyse_library", lambda: [1, 2])
    out = StringIO()
    call_command("analyse_library", stdout=out)
    assert "queued 2 analysis request(s)" in out.getvalue()
