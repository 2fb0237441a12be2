"""Case of the day: Leitner boxes per diagnosis, deterministic per user and day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from teaching import spaced_repetition as sr
from teaching.models import Read
from tests.platform.teaching.helpers import committed_read, held_out_case

D = dt.date(2026, 11, 10)


def test_leitner_boxes_by_hand():
    history = [
        ("chordoma", True, D),
        ("chordoma", True, D + dt.timedelta(days=1)),  # box 2
        ("metastasis", True, D),
        ("metastasis", False, D + dt.timedelta(days=2)),  # back to box 1
    ]
    states = sr.diagnosis_states(history)
    assert (states["chordoma"].box, states["chordoma"].reads, states["chordoma"].misses) == (2, 2, 0)
    assert (states["metastasis"].box, states["metastasis"].misses) == (1, 1)
    assert states["metastasis"].miss_rate == pytest.approx(2 / 4)
    # Box 2 waits 2 days after its last read (D+1): due on D+3, not D+2.
    assert not states["chordoma"].due(D + dt.timedelta(days=2))
    assert states["chordoma"].due(D + dt.timedelta(days=3))


def test_choice_prefers_due_missed_then_new():
    states = sr.diagnosis_states(
        [("chordoma", True, D), ("metastasis", False, D), ("osteosarcoma", False, D)]
    )
    states["osteosarcoma"].reads, states["osteosarcoma"].misses = 4, 1  # lower miss rate than metastasis
    day = D + dt.timedelta(days=1)
    available = ["chordoma", "metastasis", "osteosarcoma", "chondrosarcoma"]
    # All three due (box 1 after a day); box 1 first, then the higher miss rate.
    assert sr.choose_diagnosis(7, day, available, states) == "metastasis"
    # Nothing due on the same day -> a diagnosis never read.
    assert sr.choose_diagnosis(7, D, available, states) == "chondrosarcoma"
    # Nothing due and nothing new -> the one read longest ago.
    states2 = sr.diagnosis_states([("chordoma", True, D), ("metastasis", True, D + dt.timedelta(days=1))])
    states2["chordoma"].box = states2["metastasis"].box = 5
    assert sr.choose_diagnosis(7, D + dt.timedelta(days=2), ["chordoma", "metastasis"], states2) == "chordoma"
    assert sr.choose_diagnosis(7, D, [], {}) is None


@pytest.mark.django_db
def test_the_day_case_follows_misses_and_is_stable(client_for, rita, sam):
    missed = [held_out_case(diagnosis="chondrosarcoma") for _ in range(3)]
    known = held_out_case(diagnosis="chordoma")
    held_out_case(diagnosis="chordoma", split="train")  # never drawn: training split
    committed_read(rita, known, "chordoma")  # right: chordoma in box 1, miss rate 1/3
    committed_read(rita, missed[0], "chordoma")  # missed: chondrosarcoma in box 1, miss rate 2/3
    day = dt.date(2026, 11, 5)  # helpers commit on 2026-11-01; both box 1, due after 1 day
    first = sr.case_of_the_day(rita, day)
    assert first.histopathology.diagnosis == "chondrosarcoma"  # higher miss rate
    assert first != missed[0]  # a case never read before
    assert sr.case_of_the_day(rita, day) == first  # same day, same case
    # The view keeps the day's read; a second visit returns the same read.
    c = client_for(rita)
    r1 = c.get(reverse("teaching:daily"))
    r2 = c.get(reverse("teaching:daily"))
    assert r1["Location"] == r2["Location"]
    assert Read.objects.filter(reader=rita, kind=Read.Kind.DAILY).count() == 1
    # sam has no history: a new diagnosis, chosen by hash, from held-out cases only.
    assert sr.case_of_the_day(sam, day).memberships.get().split == "test"
