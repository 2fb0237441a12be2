"""The model registry: versioned folders, cards, checksum verification, caching."""

from __future__ import annotations

import json

import pytest
import torch

from inference_worker.models import registry


def _save(root, **overrides):
    net = torch.nn.Linear(3, 2)
    kwargs = dict(
        task="sacral-ct",
        name="toy",
        state={"state_dict": net.state_dict()},
        architecture="Linear",
        config={"in": 3, "out": 2},
        seed=7,
        split_sizes={"train": 4, "validation": 2},
        metrics={"auc": 0.5},
        synthetic_training=True,
        root=root,
    )
    kwargs.update(overrides)
    return registry.save_model(**kwargs)


def _build(card):
    return torch.nn.Linear(card["config"]["in"], card["config"]["out"])


def test_card_has_provenance(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("case_id\n")
    path = _save(tmp_path, data_manifest=manifest)
    card = json.loads((path / "card.json").read_text())
    for key in (
        "name",
        "version",
        "task",
        "architecture",
        "config",
        "sha256",
        "training_data",
        "seed",
        "split_sizes",
        "metrics",
        "synthetic_training",
        "created",
    ):
        assert key in card
    assert card["training_data"]["sha256"] == registry.sha256_file(manifest)
    assert card["sha256"] == registry.sha256_file(path / "weights.pt")


def test_latest_version_is_loaded_by_default(tmp_path):
    registry.clear_cache()
    _save(tmp_path)
    for _ in range(10):
        _save(tmp_path)  # 11 versions: "11" must beat "2" (numeric, not string order)
    loaded = registry.load_model("sacral-ct", "toy", build=_build, root=tmp_path)
    assert loaded.card["version"] == "11"
    assert isinstance(loaded.network, torch.nn.Linear)
    assert loaded.device.type in ("cpu", "cuda")
    assert registry.load_model("sacral-ct", "toy", "2", root=tmp_path).card["version"] == "2"


def test_tampered_weights_are_refused(tmp_path):
    registry.clear_cache()
    path = _save(tmp_path)
    (path / "weights.pt").write_bytes(b"not the weights")
    with pytest.raises(ValueError, match="sha256"):
        registry.load_model("sacral-ct", "toy", root=tmp_path)


def test_cached_once_per_process(tmp_path):
    registry.clear_cache()
    _save(tmp_path)
    first = registry.load_model("sacral-ct", "toy", build=_build, root=tmp_path)
    assert registry.load_model("sacral-ct", "toy", build=_build, root=tmp_path) is first


def test_versions_are_immutable_and_listed(tmp_path):
    _save(tmp_path, version="3")
    with pytest.raises(FileExistsError):
        _save(tmp_path, version="3")
    _save(tmp_path, task="bone-xray", name="effnet")
    listed = [(c["task"], c["name"], c["version"]) for c in registry.list_models(tmp_path)]
    assert listed == [("bone-xray", "effnet", "1"), ("sacral-ct", "toy", "3")]


def test_models_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "elsewhere"))
    assert registry.MODELS_DIR == tmp_path / "elsewhere"
    with pytest.raises(FileNotFoundError):
        registry.load_model("sacral-ct", "missing")
