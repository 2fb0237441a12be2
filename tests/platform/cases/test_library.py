"""The case library: what each role sees, filters, pagination, thumbnails."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse
from PIL import Image

from tests.platform.factories import make_case

pytestmark = pytest.mark.django_db


def labels_on_page(response) -> list[str]:
    """The case labels the list shows, read from the HTML (the list may come from cache)."""
    return re.findall(r'<td><a href="/cases/[0-9a-f-]{36}/">([^<]+)</a>', response.content.decode())


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("cases:library"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_resident_sees_only_library_cases(client_for, rita, dora):
    make_case(label="lib-1")
    make_case(label="upload-1", in_library=False, owner=dora, diagnosis=None)
    response = client_for(rita).get(reverse("cases:library"))
    assert labels_on_page(response) == ["lib-1"]


def test_referrer_sees_only_own_uploads(client_for, dora, dan):
    make_case(label="lib-1")
    make_case(label="dora-1", in_library=False, owner=dora, diagnosis=None)
    make_case(label="dan-1", in_library=False, owner=dan, diagnosis=None)
    response = client_for(dora).get(reverse("cases:library"))
    assert labels_on_page(response) == ["dora-1"]


def test_admin_sees_everything(client_for, alice, dora):
    make_case(label="lib-1")
    make_case(label="dora-1", in_library=False, owner=dora, diagnosis=None)
    response = client_for(alice).get(reverse("cases:library"))
    assert sorted(labels_on_page(response)) == ["dora-1", "lib-1"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"diagnosis": "chordoma"}, ["a"]),
        ({"behaviour": "benign"}, ["c"]),
        ({"sex": "F"}, ["b"]),
        ({"age_min": "40", "age_max": "55"}, ["b"]),
        ({"task": "bone-xray"}, ["c"]),
        ({"site": "femur"}, ["c"]),
        ({"q": "b"}, ["b"]),
        ({"modality": "CT"}, ["a"]),
    ],
)
def test_filters(client_for, rita, query, expected):
    make_case(label="a", diagnosis="chordoma", age=65, sex="M", with_image=True)
    make_case(label="b", diagnosis="chondrosarcoma", age=50, sex="F")
    make_case(label="c", task="bone-xray", diagnosis="osteomyelitis", age=30, sex="M", site="distal femur")
    response = client_for(rita).get(reverse("cases:library"), query)
    assert sorted(labels_on_page(response)) == expected


def test_bad_filter_value_is_reported_not_ignored(client_for, rita):
    make_case(label="a")
    response = client_for(rita).get(reverse("cases:library"), {"age_min": "old"})
    assert response.status_code == 200
    assert "Enter a number" in response.content.decode()


def test_pagination(client_for, rita):
    for i in range(30):
        make_case(label=f"p{i:02d}")
    first = client_for(rita).get(reverse("cases:library"))
    second = client_for(rita).get(reverse("cases:library"), {"page": 2})
    assert len(labels_on_page(first)) == 25
    assert len(labels_on_page(second)) == 5
    assert not set(labels_on_page(first)) & set(labels_on_page(second))


def test_case_page_shows_clinical_data_and_histopathology(client_for, rita):
    case = make_case(label="a", diagnosis="giant_cell_tumour", age=31, with_image=True)
    response = client_for(rita).get(reverse("cases:detail", args=[case.public_id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Giant cell tumour" in html and "intermediate" in html
    assert "Synthetic phantom" in html
    series = case.studies.get().series.get()
    assert reverse("cases:series-thumbnail", args=[case.public_id, series.series_uid]) in html


def test_thumbnail_is_windowed_png(client_for, rita):
    case = make_case(with_image=True)
    series = case.studies.get().series.get()
    response = client_for(rita).get(
        reverse("cases:series-thumbnail", args=[case.public_id, series.series_uid])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(response.streaming_content))).convert("L")
    # Soft tissue (40 HU) sits at mid-grey in a 400/40 window; bone (1000 HU) is white.
    centre = image.getpixel((image.width // 2, image.height // 2))
    corner = image.getpixel((2, 2))
    assert centre == 255
    assert 100 < corner < 160


def test_other_users_case_is_404_not_403(client_for, dora, dan):
    case = make_case(in_library=False, owner=dan, diagnosis=None, with_image=True)
    series = case.studies.get().series.get()
    c = client_for(dora)
    assert c.get(reverse("cases:detail", args=[case.public_id])).status_code == 404
    assert (
        c.get(reverse("cases:series-thumbnail", args=[case.public_id, series.series_uid])).status_code == 404
    )


# --- the cached list follows every change at once ----------------------------------------


def test_list_follows_edits_of_what_it_shows(client_for, rita, alice):
    case = make_case(label="edit-me", diagnosis="chordoma")
    c = client_for(rita)
    assert "<td>Chordoma</td>" in c.get(reverse("cases:library")).content.decode()
    histopathology = case.histopathology
    histopathology.diagnosis = "chondrosarcoma"
    histopathology.save()
    html = c.get(reverse("cases:library")).content.decode()
    assert "<td>Chondrosarcoma</td>" in html and "<td>Chordoma</td>" not in html
    case.clinical.age = 77
    case.clinical.save()
    assert "<td>77</td>" in c.get(reverse("cases:library")).content.decode()


def test_list_follows_visibility_changes_and_new_cases(client_for, rita):
    case = make_case(label="shown")
    c = client_for(rita)
    assert labels_on_page(c.get(reverse("cases:library"))) == ["shown"]
    case.in_library = False
    case.save()
    assert labels_on_page(c.get(reverse("cases:library"))) == []
    make_case(label="new-one")
    assert labels_on_page(c.get(reverse("cases:library"))) == ["new-one"]
    case.delete()
    assert labels_on_page(c.get(reverse("cases:library"))) == ["new-one"]


def test_users_who_see_different_cases_never_share_a_cached_list(client_for, dora, dan, rita, alice):
    make_case(label="lib-1")
    make_case(label="dora-1", in_library=False, owner=dora, diagnosis=None)
    make_case(label="dan-1", in_library=False, owner=dan, diagnosis=None)
    # Same filters, same page, same data version: only who is asking differs.
    for _ in range(2):
        assert labels_on_page(client_for(dora).get(reverse("cases:library"))) == ["dora-1"]
        assert labels_on_page(client_for(dan).get(reverse("cases:library"))) == ["dan-1"]
        assert labels_on_page(client_for(rita).get(reverse("cases:library"))) == ["lib-1"]
        assert sorted(labels_on_page(client_for(alice).get(reverse("cases:library")))) == [
            "dan-1",
            "dora-1",
            "lib-1",
        ]


def test_modality_filter_follows_images_added_by_ingest(client_for, rita, tmp_path):
    import numpy as np

    from ingest.services import ingest_paths
    from tests.platform.factories import ct_slice

    case = make_case(label="later-ct", task="sacral-ct", in_library=True)
    c = client_for(rita)
    assert labels_on_page(c.get(reverse("cases:library"), {"modality": "CT"})) == []
    ct_slice(np.zeros((16, 16))).save_as(tmp_path / "slice.dcm", enforce_file_format=True)
    ingest_paths([tmp_path / "slice.dcm"], case=case)
    assert labels_on_page(c.get(reverse("cases:library"), {"modality": "CT"})) == ["later-ct"]


# --- the cached page around the list ------------------------------------------------------


def _logout_token(html: str) -> str:
    form = re.search(r'<form method="post" action="/accounts/logout/">(.*?)</form>', html, re.S).group(1)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)


def test_cached_page_gives_a_fresh_working_csrf_token_every_time(rita):
    from django.test import Client

    make_case(label="lib-1")
    c = Client(enforce_csrf_checks=True)
    c.force_login(rita)
    first = c.get(reverse("cases:library")).content.decode()
    second = c.get(reverse("cases:library")).content.decode()
    # The second answer is the cached page: same list, a newly masked token, no placeholder.
    assert labels_on_page_html(first) == labels_on_page_html(second) == ["lib-1"]
    tokens = {_logout_token(first), _logout_token(second)}
    assert len(tokens) == 2
    assert "placeholder" not in second
    response = c.post(reverse("logout"), {"csrfmiddlewaretoken": _logout_token(second)})
    assert response.status_code == 302
    assert c.get(reverse("cases:library")).status_code == 302  # logged out: sent to log in


def test_cached_page_shows_each_user_their_own_name(client_for, rita, sam):
    make_case(label="lib-1")
    # rita and sam see the same cases (one cached list) but their own top bar.
    for _ in range(2):
        rita_html = client_for(rita).get(reverse("cases:library")).content.decode()
        sam_html = client_for(sam).get(reverse("cases:library")).content.decode()
        assert "rita · Resident (junior)" in rita_html and "sam ·" not in rita_html
        assert "sam · Resident (senior)" in sam_html and "rita ·" not in sam_html
    rita.seniority = "senior"
    rita.save()
    assert "rita · Resident (senior)" in client_for(rita).get(reverse("cases:library")).content.decode()


def test_messages_are_shown_once_on_a_cached_page(client_for, rita):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpResponse
    from django.test import RequestFactory

    make_case(label="lib-1")
    c = client_for(rita)
    c.get(reverse("cases:library"))  # the page is cached now
    # The cookie a previous response sets after messages.success(request, ...).
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(constants.SUCCESS, "Cohort imported: 3 cases")
    previous = HttpResponse()
    storage.update(previous)
    c.cookies[storage.cookie_name] = previous.cookies[storage.cookie_name].value
    assert "Cohort imported: 3 cases" in c.get(reverse("cases:library")).content.decode()
    assert "Cohort imported: 3 cases" not in c.get(reverse("cases:library")).content.decode()


def labels_on_page_html(html: str) -> list[str]:
    return re.findall(r'<td><a href="/cases/[0-9a-f-]{36}/">([^<]+)</a>', html)
