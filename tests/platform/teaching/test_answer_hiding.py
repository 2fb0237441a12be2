"""Before a read is committed, nothing sent to the reader gives the answer away.

The cases carry distinctive strings wherever an answer could hide (diagnosis code and
label, behaviour, histopathology notes, the case label, series description, the model's
name and probabilities, a teaching note, the case's and series' ids, which lead to the
library page). Every response the reading flow sends before commit - HTML, JSON, PNG,
redirects, 403s - is searched, headers included. A second test renders the reading
page of two cases that differ only in their answer and requires identical HTML.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from cases.models import Series
from teaching import services
from teaching.models import Read, TeachingNote, TeachingSet
from tests.platform.factories import make_case
from tests.platform.teaching.helpers import add_image, held_out_case, make_opinion

pytestmark = pytest.mark.django_db

# A bone-xray case: its task classes are tumour / infection, so the specific diagnosis
# (giant cell tumour, intermediate behaviour) never needs to appear in the reading form.
SECRETS_COMMON = [
    "giant_cell_tumour",
    "Giant cell tumour",
    "giant cell",
    "intermediate",
    "HISTO-NOTE-7f3a",
    "LABEL-gct-91b2",
    "Expansile lytic GCT",
    "secret-model-5d1e",
    "0.8137",
    "81.4",
    "NOTE-TEXT-c0ffee",
]


@pytest.fixture
def secret_case(alice):
    case = held_out_case(
        task="bone-xray",
        diagnosis="giant_cell_tumour",
        label="LABEL-gct-91b2",
        age=30,
        sex="F",
        site="distal femur",
    )
    case.histopathology.notes = "HISTO-NOTE-7f3a"
    case.histopathology.save()
    # In the database and in the DICOM header: de-identification keeps descriptions.
    add_image(case, description="Expansile lytic GCT")
    make_opinion(case, {"tumour": 0.8137, "infection": 0.1863}, model="secret-model-5d1e")
    TeachingNote.objects.create(diagnosis="giant_cell_tumour", text="NOTE-TEXT-c0ffee")
    return case


def forbidden_for(case) -> list[str]:
    series = Series.objects.filter(study__case=case).select_related("study").first()
    instance = series.instances.first()
    # The case id itself is no secret: the viewer link carries it, and every page it
    # opens hides the answer while the read is open (test_case_page_hides_answers...).
    return SECRETS_COMMON + [
        series.series_uid,
        series.study.study_uid,
        instance.sop_uid,
        instance.sha256,
    ]


def assert_clean(response, forbidden: list[str], where: str) -> None:
    texts = [f"{k}: {v}" for k, v in response.items()]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith(("text/", "application/json")):
        texts.append(body.decode())
    else:
        # Binary (PNG, DICOM): the secret must not sit in metadata or tags either.
        texts.append(body.decode("latin-1"))
    blob = "\n".join(texts)
    for secret in forbidden:
        assert secret.lower() not in blob.lower(), f"{where} leaks {secret!r}"


def test_nothing_leaks_before_commit(client_for, alice, rita, secret_case):
    teaching_set, _ = services.create_set(created_by=alice, title="Bones", task="bone-xray", time_limit_s=120)
    forbidden = forbidden_for(secret_case)
    c = client_for(rita)
    responses = {
        "home": c.get(reverse("teaching:home")),
        "set page": c.get(reverse("teaching:set-detail", args=[teaching_set.public_id])),
        "next": c.get(reverse("teaching:set-next", args=[teaching_set.public_id])),
    }
    read = Read.objects.get(reader=rita)
    responses.update(
        {
            "reading page": c.get(reverse("teaching:read", args=[read.public_id])),
            "state.json": c.get(reverse("teaching:read-state", args=[read.public_id])),
            "image": c.get(reverse("teaching:read-image", args=[read.public_id, 0])),
            "key image": c.get(reverse("teaching:read-image", args=[read.public_id, 0]) + "?size=key"),
            "reveal": c.get(reverse("teaching:reveal", args=[read.public_id])),
            "overlay": c.get(reverse("teaching:reveal-overlay", args=[read.public_id, "regions"])),
            "invalid commit": c.post(
                reverse("teaching:read", args=[read.public_id]), {"diagnosis": "nonsense"}
            ),
        }
    )
    for where, response in responses.items():
        assert response.status_code in (200, 302, 403), (where, response.status_code)
        assert_clean(response, forbidden, where)
    assert responses["reveal"].status_code == 403
    assert responses["overlay"].status_code == 403
    assert responses["image"]["Content-Type"] == "image/png"
    state = responses["state.json"].json()
    assert set(state) == {"committed", "elapsed_s", "time_limit_s", "remaining_s"}
    assert state["committed"] is False


def test_the_answer_shows_after_commit(client_for, alice, rita, secret_case):
    """The same strings do appear once committed: the test above is not vacuous."""
    teaching_set, _ = services.create_set(created_by=alice, title="Bones", task="bone-xray")
    c = client_for(rita)
    c.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    read = Read.objects.get(reader=rita)
    response = c.post(
        reverse("teaching:read", args=[read.public_id]),
        {"diagnosis": "infection", "malignant": "0", "certainty": "possible"},
        follow=True,
    )
    html = response.content.decode()
    for shown in ("Giant cell tumour", "HISTO-NOTE-7f3a", "NOTE-TEXT-c0ffee", "81.4", "LABEL-gct-91b2"):
        assert shown in html, shown
    assert "Missed" in html


def normalise(html: str) -> str:
    html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", html)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)


def test_reading_page_is_identical_whatever_the_answer(client_for, alice, rita):
    """Two cases alike except for their answer (and the model's view) render the same page."""
    tumour = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True, label="A-1")
    infection = held_out_case(task="bone-xray", diagnosis="tuberculosis", with_image=True, label="B-2")
    make_opinion(tumour, {"tumour": 0.9, "infection": 0.1})
    pages = []
    for case in (tumour, infection):
        s, _ = services.create_set(created_by=alice, title="One", task="bone-xray", case_refs=[case.label])
        c = client_for(rita)
        c.get(reverse("teaching:set-next", args=[s.public_id]))
        read = Read.objects.get(reader=rita, item__teaching_set=s)
        pages.append(normalise(c.get(reverse("teaching:read", args=[read.public_id])).content.decode()))
    assert pages[0] == pages[1]


def test_reading_pages_hide_the_diagnosis_in_the_six_class_task(client_for, alice, rita):
    """Sacral CT: all six labels appear as choices, each exactly as often; notes never."""
    case = held_out_case(task="sacral-ct", diagnosis="chordoma", with_image=True, label="chordoma-S3-case")
    case.histopathology.notes = "classic notochordal HISTO-NOTE-9"
    case.histopathology.save()
    s, _ = services.create_set(created_by=alice, title="Sacrum", task="sacral-ct")
    c = client_for(rita)
    c.get(reverse("teaching:set-next", args=[s.public_id]))
    read = Read.objects.get(reader=rita)
    html = c.get(reverse("teaching:read", args=[read.public_id])).content.decode()
    assert "chordoma-S3-case" not in html and "HISTO-NOTE-9" not in html
    counts = {
        label: html.count(label) for label in ("Chordoma", "Metastasis", "Chondrosarcoma", "Osteosarcoma")
    }
    assert len(set(counts.values())) == 1, counts


def test_unaided_study_read_reveals_nothing_until_the_aided_read(client_for, alice, rita, secret_case):
    s, _ = services.create_set(
        created_by=alice, title="Study", task="bone-xray", mode=TeachingSet.Mode.ASSISTED
    )
    c = client_for(rita)
    c.get(reverse("teaching:set-next", args=[s.public_id]))
    unaided = Read.objects.get(reader=rita, kind=Read.Kind.UNAIDED)
    response = c.post(
        reverse("teaching:read", args=[unaided.public_id]),
        {"diagnosis": "tumour", "malignant": "0", "certainty": "probable"},
    )
    # Straight on to the aided read, not to the answer.
    assert response["Location"] == reverse("teaching:set-next", args=[s.public_id])
    assert c.get(reverse("teaching:reveal", args=[unaided.public_id])).status_code == 403
    c.get(response["Location"])
    aided = Read.objects.get(reader=rita, kind=Read.Kind.AIDED)
    page = c.get(reverse("teaching:read", args=[aided.public_id]))
    html = page.content.decode()
    assert "81.4" in html  # the model's opinion is the aid...
    forbidden = [s for s in forbidden_for(secret_case) if s not in ("81.4", "0.8137", "secret-model-5d1e")]
    assert_clean(page, forbidden, "aided reading page")  # ...the histopathology is not
    c.post(
        reverse("teaching:read", args=[aided.public_id]),
        {"diagnosis": "tumour", "malignant": "0", "certainty": "certain"},
    )
    assert c.get(reverse("teaching:reveal", args=[unaided.public_id])).status_code == 200


def test_another_readers_read_is_not_found(client_for, alice, rita, sam, secret_case):
    s, _ = services.create_set(created_by=alice, title="Bones", task="bone-xray")
    client_for(rita).get(reverse("teaching:set-next", args=[s.public_id]))
    read = Read.objects.get(reader=rita)
    c = client_for(sam)
    for name in ("teaching:read", "teaching:read-state", "teaching:reveal"):
        assert c.get(reverse(name, args=[read.public_id])).status_code == 404
    assert c.get(reverse("teaching:read-image", args=[read.public_id, 0])).status_code == 404


@pytest.fixture
def viewer_policy(settings):
    """The wiring the lead adds to settings: the viewer asks this app when to hide answers."""
    from viewer import answers

    settings.VIEWER_ANSWER_POLICY = "teaching.selectors.answers_hidden_for"
    answers._policy.cache_clear()
    yield
    answers._policy.cache_clear()


def test_viewer_pages_linked_while_reading_hide_the_answer(
    client_for, alice, rita, secret_case, viewer_policy
):
    from teaching.selectors import answers_hidden_for

    s, _ = services.create_set(created_by=alice, title="Bones", task="bone-xray")
    c = client_for(rita)
    c.get(reverse("teaching:set-next", args=[s.public_id]))
    read = Read.objects.get(reader=rita)
    assert answers_hidden_for(rita, secret_case) and not answers_hidden_for(alice, secret_case)
    page = c.get(reverse("teaching:read", args=[read.public_id]))
    link = re.search(r'href="([^"]+)"[^>]*id="viewer-link"', page.content.decode()).group(1)
    # The case id is in the link by necessity; everything else must stay secret, even
    # when the reader drops ?answers=hidden (the policy forces it).
    forbidden = SECRETS_COMMON
    bare = link.split("?")[0]
    responses = {"viewer": c.get(link), "viewer without the flag": c.get(bare)}
    config = c.get(reverse("viewer:case-config", args=[secret_case.public_id]))
    responses["config"] = config
    for i, image_id in enumerate(
        image for series in config.json()["series"] for image in series["image_ids"]
    ):
        url = image_id.removeprefix("wadouri:").replace("http://testserver", "").split("?")[0]
        responses[f"wado {i}"] = c.get(url)
    assert len(responses) > 3
    for where, response in responses.items():
        assert response.status_code == 200, (where, response.status_code)
        assert_clean(response, forbidden, where)
    assert config.json()["show_model_output"] is False
    assert responses["wado 0"]["Content-Type"] == "application/dicom"
    # Not vacuous: the stored file does carry the description, as an admin outside a quiz sees.
    wado = reverse("viewer:wado", args=[Series.objects.get(study__case=secret_case).instances.get().sop_uid])
    assert b"Expansile lytic GCT" in b"".join(client_for(alice).get(wado).streaming_content)
    services.commit_read(read=read, diagnosis="tumour", malignant=False, certainty="probable")
    assert not answers_hidden_for(rita, secret_case)


def test_case_page_hides_answers_while_the_case_is_being_read(client_for, alice, rita, secret_case):
    teaching_set, _ = services.create_set(created_by=alice, title="Bones", task="bone-xray")
    c = client_for(rita)
    c.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    read = Read.objects.get(reader=rita)
    case_url = reverse("cases:detail", args=[secret_case.public_id])
    library_url = reverse("cases:library")
    assert_clean(c.get(case_url), SECRETS_COMMON, "case page during the read")
    assert secret_case.label not in c.get(library_url).content.decode()
    committed = c.post(
        reverse("teaching:read", args=[read.public_id]),
        {"diagnosis": "tumour", "malignant": "0", "certainty": "probable"},
    )
    assert committed.status_code == 302
    after = c.get(case_url).content.decode()
    assert "Giant cell tumour" in after
    assert secret_case.label in c.get(library_url).content.decode()


def test_the_hiding_policy_follows_every_read_state(alice, rita, sam):
    """answers_hidden_for, state by state (the viewer asks it for every file with text)."""
    from django.utils import timezone

    from teaching.models import SetItem, TeachingSet
    from teaching.selectors import answers_hidden_for

    case, other_case = make_case(label="policy-1"), make_case(label="policy-2")
    teaching_set = TeachingSet.objects.create(title="Study", task="sacral-ct", created_by=alice)
    item = SetItem.objects.create(teaching_set=teaching_set, case=case)
    assert not answers_hidden_for(rita, case)

    quiz = Read.objects.create(reader=rita, case=case, kind=Read.Kind.QUIZ)
    assert answers_hidden_for(rita, case)  # open read
    assert not answers_hidden_for(sam, case) and not answers_hidden_for(rita, other_case)
    quiz.committed_at = timezone.now()
    quiz.save()
    assert not answers_hidden_for(rita, case)

    now = timezone.now()
    Read.objects.create(reader=rita, case=case, item=item, kind=Read.Kind.UNAIDED, committed_at=now)
    assert answers_hidden_for(rita, case)  # unaided done, the aided pass still to come
    Read.objects.create(reader=sam, case=case, item=item, kind=Read.Kind.AIDED, committed_at=now)
    assert answers_hidden_for(rita, case)  # someone else's aided read does not count
    aided = Read.objects.create(reader=rita, case=case, item=item, kind=Read.Kind.AIDED)
    assert answers_hidden_for(rita, case)  # aided read open
    aided.committed_at = timezone.now()
    aided.save()
    assert not answers_hidden_for(rita, case)

    Read.objects.create(reader=sam, case=other_case, kind=Read.Kind.UNAIDED, committed_at=now)
    assert answers_hidden_for(sam, other_case)  # unaided with no item: no aided read can ever release it
    assert not answers_hidden_for(AnonymousUser(), case)
