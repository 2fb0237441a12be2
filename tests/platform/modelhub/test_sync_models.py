"""Model cards on disk become model versions; one version serves per model."""

from __future__ import annotations

import json

import pytest

from modelhub import services
from modelhub.models import ModelVersion

pytestmark = pytest.mark.django_db


def write_card(root, task, name, version, synthetic=True):
    folder = root / task / name / version
    folder.mkdir(parents=True)
    card = {
        "name": name,
        "version": version,
        "task": task,
        "architecture": "DenseNet121",
        "sha256": "ab" * 32,
        "training_data": {"manifest": "demo/manifest.csv"},
        "metrics": {"auc_macro": 0.9},
        "synthetic_training": synthetic,
    }
    (folder / "card.json").write_text(json.dumps(card))


def test_new_cards_register_and_the_newest_serves(tmp_path):
    write_card(tmp_path, "sacral-ct", "malignancy", "1")
    started = services.sync_from_cards(tmp_path)
    assert [str(m.version) for m in started] == ["1"]
    write_card(tmp_path, "sacral-ct", "malignancy", "2")
    started = services.sync_from_cards(tmp_path)
    assert [m.version for m in started] == ["2"]
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {"1": "retired", "2": "serving"}
    assert services.serving_models("sacral-ct").get().synthetic_training is True


def test_sync_is_idempotent(tmp_path):
    write_card(tmp_path, "bone-xray", "ensemble", "1")
    services.sync_from_cards(tmp_path)
    assert services.sync_from_cards(tmp_path) == []
    assert ModelVersion.objects.count() == 1


def test_unreadable_card_is_skipped(tmp_path):
    folder = tmp_path / "spine-xray" / "ap" / "1"
    folder.mkdir(parents=True)
    (folder / "card.json").write_text("{not json")
    assert services.sync_from_cards(tmp_path) == []


def write_raw_card(root, task, name, version, text):
    folder = root / task / name / version
    folder.mkdir(parents=True)
    (folder / "card.json").write_text(text)


NAN_CARD = (
    '{"name": "malignancy", "version": "3", "task": "sacral-ct", "sha256": "%s",'
    ' "metrics": {"auc_macro": NaN, "per_class": [0.5, Infinity, -Infinity]},'
    ' "training_data": {"n": 10}}' % ("cd" * 32)
)


def test_non_finite_metrics_become_null_and_the_card_registers(tmp_path):
    write_raw_card(tmp_path, "sacral-ct", "malignancy", "3", NAN_CARD)
    report = services.sync_cards(tmp_path)
    mv = ModelVersion.objects.get(version="3")
    assert mv.status == "serving"
    assert mv.metrics == {"auc_macro": None, "per_class": [0.5, None, None]}
    assert mv.card["metrics"]["auc_macro"] is None
    assert report.problems == []
    assert "metrics.auc_macro" in report.warnings[0] and "metrics.per_class[1]" in report.warnings[0]


def test_one_bad_card_does_not_stop_the_others(tmp_path):
    write_raw_card(tmp_path, "bone-xray", "aaa", "1", '{"name": "aaa", "task": "bone-xray"}')
    write_raw_card(tmp_path, "bone-xray", "bbb", "1", "[1, 2]")
    write_raw_card(tmp_path, "sacral-ct", "malignancy", "3", NAN_CARD)
    write_card(tmp_path, "spine-xray", "ap", "1")
    report = services.sync_cards(tmp_path)
    assert sorted(m.name for m in report.registered) == ["ap", "malignancy"]
    assert len(report.problems) == 2
    assert "missing version" in report.problems[0]
    assert "must be a JSON object" in report.problems[1]


def test_sync_models_command_names_the_skipped_card(tmp_path, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.MODELS_DIR = tmp_path
    write_raw_card(tmp_path, "sacral-ct", "malignancy", "3", NAN_CARD)
    write_raw_card(tmp_path, "spine-xray", "ap", "1", "{broken")
    out, err = StringIO(), StringIO()
    call_command("sync_models", stdout=out, stderr=err)
    assert "1 new version(s) registered, 1 serving" in out.getvalue()
    assert "non-finite numbers stored as null" in out.getvalue()
    assert "spine-xray/ap/1/card.json: not valid JSON" in err.getvalue()
    assert ModelVersion.objects.filter(name="malignancy", status="serving").exists()
