"""In an assisted-reading study no route shows an answer until the reader's whole study
(every unaided and aided read) is committed.

The pen test: after the unaided read was committed (without following the redirect) the
library listed the case with its diagnosis; during the aided read the dashboard showed
the diagnosis and reads.csv the truth. Here two cases are read; every route that can
show a diagnosis, the histopathology, the label or the model's opinion is walked after
each commit, for the case being read and for the case not opened yet.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from teaching import services
from teaching.models import Read, TeachingSet
from tests.platform.teaching.helpers import add_image, held_out_case, make_opinion

pytestmark = pytest.mark.django_db

SECRETS = {
    "first": ["LABEL-gct-44aa", "Giant cell tumour", "HISTO-gct-note", "Lytic GCT desc", "0.7771"],
    "second": ["LABEL-tb-55bb", "Tuberculosis", "HISTO-tb-note", "Sequestrum TB desc", "0.6661"],
}
CALL = {"diagnosis": "infection", "malignant": "0", "certainty": "possible"}


@pytest.fixture
def study(alice, viewer_policy):
    first = held_out_case(task="bone-xray", diagnosis="giant_cell_tumour", label="LABEL-gct-44aa")
    second = held_out_case(task="bone-xray", diagnosis="tuberculosis", label="LABEL-tb-55bb")
    for case, key in ((first, "first"), (second, "second")):
        case.histopathology.notes = SECRETS[key][2]
        case.histopathology.save()
        add_image(case, description=SECRETS[key][3])
    make_opinion(first, {"tumour": 0.7771, "infection": 0.2229})
    make_opinion(second, {"infection": 0.6661, "tumour": 0.3339})
    teaching_set, _ = services.create_set(
        created_by=alice, title="Study", task="bone-xray", mode=TeachingSet.Mode.ASSISTED
    )
    assert teaching_set.items.count() == 2
    return teaching_set, first, second


@pytest.fixture
def viewer_policy(settings):
    from viewer import answers

    settings.VIEWER_ANSWER_POLICY = "teaching.selectors.answers_hidden_for"
    answers._policy.cache_clear()
    yield
    answers._policy.cache_clear()


def _body(response) -> str:
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return data.decode("latin-1")


def routes(c, rita, cases) -> dict[str, object]:
    """Every page and file that can show an answer of these cases to their reader."""
    got = {
        "library": c.get("/cases/"),
        "library by diagnosis": c.get("/cases/", {"diagnosis": "giant_cell_tumour"}),
        "library by diagnosis 2": c.get("/cases/", {"diagnosis": "tuberculosis"}),
        "library search": c.get("/cases/", {"q": "LABEL"}),
        "dashboard": c.get(reverse("teaching:dashboard")),
        "reads.csv": c.get(reverse("teaching:dashboard-csv", args=[rita.pk, "reads"])),
        "classes.csv": c.get(reverse("teaching:dashboard-csv", args=[rita.pk, "classes"])),
        "weakest.csv": c.get(reverse("teaching:dashboard-csv", args=[rita.pk, "weakest"])),
        "teaching home": c.get(reverse("teaching:home")),
        "qido studies": c.get("/dicomweb/studies"),
        "qido series": c.get("/dicomweb/series"),
    }
    for n, case in enumerate(cases):
        study = case.studies.get()
        got[f"case page {n}"] = c.get(reverse("cases:detail", args=[case.public_id]))
        got[f"viewer {n}"] = c.get(reverse("viewer:case", args=[case.public_id]))
        got[f"viewer config {n}"] = c.get(reverse("viewer:case-config", args=[case.public_id]))
        got[f"metadata {n}"] = c.get(f"/dicomweb/studies/{study.study_uid}/metadata")
        sop = study.series.get().instances.get().sop_uid
        got[f"wado {n}"] = c.get(reverse("viewer:wado", args=[sop]))
    for read in Read.objects.filter(reader=rita, committed_at__isnull=False):
        got[f"reveal {read.kind} {read.case.label}"] = c.get(
            reverse("teaching:reveal", args=[read.public_id])
        )
    return got


# The library's filter form lists every diagnosis as an option: there the rows tell.
NAMES_EVERYWHERE = ("Giant cell tumour", "Tuberculosis")


def assert_hidden(got: dict, secrets: list[str], when: str) -> None:
    for where, response in got.items():
        assert response.status_code in (200, 403), (when, where, response.status_code)
        text = _body(response) + "\n".join(f"{k}: {v}" for k, v in response.items())
        if where.startswith("library"):
            assert "No cases match" in text, (when, where)
        if where.endswith(".csv"):
            # Only the header line (or "empty"): no row of a study read.
            assert len(_body(response).strip().splitlines()) <= 1, (when, where, _body(response))
        for secret in secrets:
            if where.startswith("library") and secret in NAMES_EVERYWHERE:
                continue
            assert secret.lower() not in text.lower(), f"{when}: {where} shows {secret!r}"
        if where.startswith("reveal"):
            assert response.status_code == 403, (when, where)


def commit(c, read: Read):
    return c.post(reverse("teaching:read", args=[read.public_id]), CALL)


def test_no_route_shows_an_answer_before_the_whole_study_is_committed(client_for, rita, study):
    teaching_set, first, second = study
    c = client_for(rita)
    cases = [first, second]
    every_secret = SECRETS["first"] + SECRETS["second"]

    c.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    unaided = Read.objects.get(reader=rita, kind=Read.Kind.UNAIDED)
    shown_first = unaided.case
    response = commit(c, unaided)  # the redirect is not followed
    assert response["Location"] == reverse("teaching:set-next", args=[teaching_set.public_id])
    assert_hidden(routes(c, rita, cases), every_secret, "after the first unaided read")
    # The case of the day is not one of the study's cases either (its reveal would tell).
    c.get(reverse("teaching:daily"))
    assert not Read.objects.filter(reader=rita, kind=Read.Kind.DAILY, case__in=cases).exists()

    c.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    aided = Read.objects.get(reader=rita, kind=Read.Kind.AIDED)
    assert aided.case == shown_first
    response = commit(c, aided)
    # Not to the reveal: the other case is still to be read.
    assert response["Location"] == reverse("teaching:set-next", args=[teaching_set.public_id])
    model_output = ["0.7771", "0.6661"]
    # The aided page shows the model's opinion of the case being read: that is the aid.
    assert_hidden(
        routes(c, rita, cases),
        [s for s in every_secret if s not in model_output],
        "after the first aided read",
    )
    assert_hidden(routes(c, rita, cases), model_output, "model output outside the aided page")

    c.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    last_unaided = Read.objects.get(reader=rita, kind=Read.Kind.UNAIDED, committed_at__isnull=True)
    commit(c, last_unaided)
    assert_hidden(routes(c, rita, cases), every_secret, "after the second unaided read")
    c.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    last = Read.objects.get(reader=rita, kind=Read.Kind.AIDED, committed_at__isnull=True)
    response = commit(c, last)
    assert response["Location"] == reverse("teaching:reveal", args=[last.public_id])

    # Not vacuous: once the study is done, the same routes give the answers.
    got = routes(c, rita, cases)
    library = _body(got["library"])
    assert "LABEL-gct-44aa" in library and "LABEL-tb-55bb" in library, library[-3000:]
    assert "LABEL-gct-44aa" in _body(got["library by diagnosis"])
    assert "HISTO-gct-note" not in _body(got["library"])  # notes are on the reveal only
    reveals = [k for k in got if k.startswith("reveal")]
    assert len(reveals) == 4 and all(got[k].status_code == 200 for k in reveals)
    assert _body(got["reads.csv"]).count("unaided") == 2


def test_a_reader_who_has_not_begun_the_study_still_sees_the_library(client_for, sam, rita, study):
    teaching_set, first, _ = study
    client_for(rita).get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    assert "Giant cell tumour" in client_for(sam).get("/cases/").content.decode()
