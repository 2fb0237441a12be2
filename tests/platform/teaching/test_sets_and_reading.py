"""Building sets, reading order, server-side timing, commit rules and region scoring."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from teaching import selectors, services
from teaching.models import Read, TeachingSet
from tests.platform.teaching.helpers import held_out_case, make_opinion

pytestmark = pytest.mark.django_db


def test_sets_draw_on_held_out_cases_only_by_default(alice):
    test_case = held_out_case(task="bone-xray", diagnosis="osteosarcoma", split="test")
    external = held_out_case(task="bone-xray", diagnosis="tuberculosis", split="external")
    held_out_case(task="bone-xray", diagnosis="osteosarcoma", split="train")
    held_out_case(
        task="bone-xray", diagnosis="osteoporotic_fracture", split="test"
    )  # out of scope for the task
    held_out_case(task="sacral-ct", diagnosis="chordoma", split="test")  # other task
    s, _ = services.create_set(created_by=alice, title="Held out", task="bone-xray")
    assert {i.case for i in s.items.all()} == {test_case, external}
    assert s.splits == ["test", "external"]
    assert selectors.set_splits(s) == ["test", "external"]
    everything, _ = services.create_set(created_by=alice, title="All", task="bone-xray", splits=[])
    assert everything.items.count() == 3
    assert "train" in selectors.set_splits(everything)


def test_set_page_says_which_splits(client_for, alice, rita):
    held_out_case(task="bone-xray", diagnosis="osteosarcoma", split="external")
    s, _ = services.create_set(created_by=alice, title="Ext", task="bone-xray")
    html = client_for(rita).get(reverse("teaching:set-detail", args=[s.public_id])).content.decode()
    assert "external split" in html and "held out from model training" in html


def test_sets_by_filters_and_by_hand(alice):
    a = held_out_case(task="bone-xray", diagnosis="osteosarcoma", label="a", age=15)
    b = held_out_case(task="bone-xray", diagnosis="tuberculosis", label="b", age=60)
    held_out_case(task="bone-xray", diagnosis="osteomyelitis", label="t", split="train")
    from cases.selectors import LibraryFilters

    young, _ = services.create_set(
        created_by=alice, title="Young", task="bone-xray", filters=LibraryFilters(age_max=30)
    )
    assert [i.case for i in young.items.all()] == [a]
    by_hand, skipped = services.create_set(
        created_by=alice, title="Hand", task="bone-xray", case_refs=["b", "t", "nope", str(a.public_id)]
    )
    assert [i.case for i in by_hand.items.order_by("position")] == [b, a]
    assert skipped == ["t", "nope"]  # training split and unknown are left out, and said so
    with pytest.raises(ValidationError):
        services.create_set(created_by=alice, title="None", task="spine-xray")


def test_build_form_creates_a_set(client_for, alice):
    held_out_case(task="bone-xray", diagnosis="osteosarcoma")
    c = client_for(alice)
    assert c.get(reverse("teaching:set-new")).status_code == 200
    response = c.post(
        reverse("teaching:set-new"),
        {
            "title": "Form",
            "task": "bone-xray",
            "mode": "quiz",
            "order": "shuffled",
            "splits": ["test", "external"],
            "time_limit_s": "90",
        },
    )
    s = TeachingSet.objects.get(title="Form")
    assert response["Location"] == reverse("teaching:set-detail", args=[s.public_id])
    assert (s.order, s.time_limit_s, s.items.count()) == ("shuffled", 90, 1)


def test_shuffled_order_is_stable_per_reader(alice, rita, sam):
    for _ in range(12):
        held_out_case(task="bone-xray", diagnosis="osteosarcoma")
    s, _ = services.create_set(
        created_by=alice, title="Shuffle", task="bone-xray", order=TeachingSet.Order.SHUFFLED
    )
    ritas = [i.pk for i in selectors.reader_items(rita, s)]
    assert ritas == [i.pk for i in selectors.reader_items(rita, s)]
    assert ritas != [i.pk for i in selectors.reader_items(sam, s)]
    assert sorted(ritas) == sorted(i.pk for i in s.items.all())


def _read(client, teaching_set) -> Read:
    response = client.get(reverse("teaching:set-next", args=[teaching_set.public_id]))
    return Read.objects.get(public_id=response["Location"].split("/")[-2])


def test_reading_time_is_server_side_and_late_reads_are_flagged(client_for, alice, rita):
    held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    s, _ = services.create_set(created_by=alice, title="Timed", task="bone-xray", time_limit_s=60)
    c = client_for(rita)
    read = _read(c, s)
    started = read.started_at
    c.get(reverse("teaching:read", args=[read.public_id]))  # reloading does not restart the clock
    read.refresh_from_db()
    assert read.started_at == started
    Read.objects.filter(pk=read.pk).update(started_at=timezone.now() - timedelta(seconds=100))
    c.post(
        reverse("teaching:read", args=[read.public_id]),
        {"diagnosis": "tumour", "malignant": "1", "certainty": "certain"},
    )
    read.refresh_from_db()
    assert read.duration_s == pytest.approx(100, abs=5)
    assert read.late is True and read.correct is True and read.malignant_correct is True


def test_a_read_commits_once(alice, rita):
    held_out_case(task="bone-xray", diagnosis="tuberculosis")
    s, _ = services.create_set(created_by=alice, title="Once", task="bone-xray")
    read = services.start_read(user=rita, item=s.items.get(), kind=Read.Kind.QUIZ)
    services.commit_read(read=read, diagnosis="infection", malignant=False, certainty="probable")
    with pytest.raises(ValidationError):
        services.commit_read(read=read, diagnosis="tumour", malignant=True, certainty="certain")
    other = services.start_read(user=alice, item=s.items.get(), kind=Read.Kind.QUIZ)
    with pytest.raises(ValidationError):  # not a class of the bone-xray task
        services.commit_read(read=other, diagnosis="chordoma", malignant=True, certainty="certain")
    read.refresh_from_db()
    assert (read.diagnosis, read.correct, read.truth_class) == ("infection", True, "infection")
    assert services.start_read(user=rita, item=s.items.get(), kind=Read.Kind.QUIZ) == read
    with pytest.raises(ValidationError):  # no aided read before the unaided one
        services.start_read(user=alice, item=s.items.get(), kind=Read.Kind.AIDED)


def test_region_scored_against_lesion_box_and_heatmap(settings, alice, rita, client_for):
    case = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)  # 64 x 64 key image
    case.annotations = {"lesion_box": "16,16,48,48"}  # 32 x 32 = 1024 px
    case.save()
    opinion = make_opinion(case, {"tumour": 0.7, "infection": 0.3}, artefacts={"gradcam": "gradcam.npy"})
    out = settings.MEDIA_ROOT / opinion.request.out_dir
    out.mkdir(parents=True)
    heat = np.zeros((32, 32))  # half resolution: resized to the key image
    heat[8:24, 8:24] = 1.0  # = pixels 16..47 at full size: all inside the lesion box
    np.save(out / "gradcam.npy", heat)
    s, _ = services.create_set(created_by=alice, title="Mark", task="bone-xray")
    c = client_for(rita)
    read = _read(c, s)
    # Region x 16..48, y 32..48: 32 x 16 = 512 px, all inside the box.
    region = '{"shape": "rect", "points": [[16, 32], [48, 48]]}'
    c.post(
        reverse("teaching:read", args=[read.public_id]),
        {"diagnosis": "tumour", "malignant": "1", "certainty": "probable", "region": region},
    )
    read.refresh_from_db()
    assert read.region_scores["area_px"] == 512
    assert read.region_scores["dice"] == pytest.approx(2 * 512 / (512 + 1024), abs=1e-3)
    assert read.region_scores["iou"] == pytest.approx(0.5, abs=1e-3)
    assert read.region_scores["heat_inside_gradcam"] == pytest.approx(0.5, abs=0.02)
    assert read.opinion == opinion and read.model_class == "tumour" and read.model_score == pytest.approx(0.3)
    reveal = c.get(reverse("teaching:reveal", args=[read.public_id])).content.decode()
    assert "Dice with the tumour" in reveal and "0.67" in reveal
    for layer in ("regions", "gradcam"):
        png = c.get(reverse("teaching:reveal-overlay", args=[read.public_id, layer]))
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert c.get(reverse("teaching:reveal-overlay", args=[read.public_id, "nothing"])).status_code == 404


def test_bad_region_is_refused_on_the_page(client_for, alice, rita):
    held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    s, _ = services.create_set(created_by=alice, title="Bad", task="bone-xray")
    c = client_for(rita)
    read = _read(c, s)
    response = c.post(
        reverse("teaching:read", args=[read.public_id]),
        {
            "diagnosis": "tumour",
            "malignant": "1",
            "certainty": "probable",
            "region": '{"shape": "rect", "points": [[1, 1]]}',
        },
    )
    assert response.status_code == 200 and "two corner points" in response.content.decode()
    read.refresh_from_db()
    assert read.committed_at is None


def test_without_a_reference_the_model_segmentation_is_used(settings, alice, rita, client_for):
    case = held_out_case(task="sacral-ct", diagnosis="chordoma", with_image=True)
    labels = np.zeros((1, 64, 64), np.uint8)  # [slices, rows, cols], one slice = the key image
    labels[0, 16:48, 16:48] = 1  # tumour: 1024 px
    labels[0, 0:8, :] = 2  # hip bone: must not count as tumour
    probs = {
        "metastasis": 0.1,
        "chondrosarcoma": 0.1,
        "osteosarcoma": 0.1,
        "chordoma": 0.5,
        "neurogenic_tumour": 0.1,
        "giant_cell_tumour": 0.1,
    }
    opinion = make_opinion(case, probs, artefacts={"segmentation": {"path": "seg.npy", "kind": "labelmap"}})
    out = settings.MEDIA_ROOT / opinion.request.out_dir
    out.mkdir(parents=True)
    np.save(out / "seg.npy", labels)
    s, _ = services.create_set(created_by=alice, title="CT", task="sacral-ct")
    c = client_for(rita)
    read = _read(c, s)
    region = '{"shape": "rect", "points": [[0, 0], [64, 32]]}'  # rows 0..31: 2048 px, 512 of them tumour
    c.post(
        reverse("teaching:read", args=[read.public_id]),
        {"diagnosis": "chordoma", "malignant": "1", "certainty": "certain", "region": region},
    )
    read.refresh_from_db()
    assert read.region_scores["dice"] == pytest.approx(2 * 512 / (2048 + 1024), abs=1e-3)
    assert read.model_score == pytest.approx(0.8)  # metastasis + chondrosarcoma + osteosarcoma + chordoma
    html = c.get(reverse("teaching:reveal", args=[read.public_id])).content.decode()
    assert "model segmentation (segmentation)" in html


def test_reference_from_the_imported_label_map(settings, alice, rita, client_for):
    from PIL import Image

    case = held_out_case(task="bone-xray", diagnosis="osteosarcoma", with_image=True)
    labels = np.zeros((64, 64), np.uint8)
    labels[0:32, 0:32] = 1  # a radiograph label PNG: tumour = 1
    path = settings.MEDIA_ROOT / "objects" / "labels.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels).save(path)
    case.annotations = {
        "labels": {"sha256": "x", "path": "objects/labels.png"},
        "lesion_box": [40, 40, 60, 60],
    }
    case.save()
    s, _ = services.create_set(created_by=alice, title="Labels", task="bone-xray")
    c = client_for(rita)
    read = _read(c, s)
    c.post(
        reverse("teaching:read", args=[read.public_id]),
        {
            "diagnosis": "tumour",
            "malignant": "1",
            "certainty": "certain",
            "region": '{"shape": "rect", "points": [[0, 0], [32, 32]]}',
        },
    )
    read.refresh_from_db()
    assert read.region_scores["dice"] == 1.0  # the label map wins over the box
