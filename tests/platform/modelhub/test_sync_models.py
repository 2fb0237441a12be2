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
