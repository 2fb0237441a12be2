"""The one device setting (OSTEOLENS_DEVICE) and the paths that must follow it."""

from __future__ import annotations

import json

import pytest
import torch

from inference_worker import devices
from inference_worker.models import registry


def available_devices() -> list[str]:
    """Every device torch reports here: the CPU always, each CUDA device where one exists."""
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


@pytest.mark.parametrize(
    ("value", "cuda_count", "expected"),
    [
        ("auto", 0, "cpu"),
        ("auto", 2, "cuda:0"),
        ("cpu", 2, "cpu"),
        ("cuda", 1, "cuda:0"),
        ("CUDA:1", 2, "cuda:1"),
        ("", 0, "cpu"),
    ],
)
def test_setting_values(value, cuda_count, expected):
    assert str(devices.parse(value, cuda_count=cuda_count)) == expected


@pytest.mark.parametrize(("value", "cuda_count"), [("cuda", 0), ("cuda:2", 2), ("gpu", 1), ("cpu:0x", 0)])
def test_impossible_or_unknown_device_is_refused_with_a_clear_message(value, cuda_count):
    with pytest.raises(devices.DeviceError, match="OSTEOLENS_DEVICE"):
        devices.parse(value, cuda_count=cuda_count)


def test_model_loading_and_training_follow_the_one_setting(monkeypatch):
    # The registry used to pick CUDA itself and ignore the setting.
    devices.device.cache_clear()
    monkeypatch.setenv("OSTEOLENS_DEVICE", "cpu")
    try:
        assert registry.default_device() == devices.device() == torch.device("cpu")
        assert devices.describe()["device"] == "cpu"
    finally:
        devices.device.cache_clear()


def test_model_card_records_the_training_device(tmp_path):
    net = torch.nn.Linear(2, 1)
    path = registry.save_model(
        task="bone-xray",
        name="probe",
        state={"state_dict": net.state_dict()},
        architecture="linear",
        config={},
        seed=0,
        split_sizes={},
        metrics={},
        synthetic_training=True,
        data_manifest=None,
        root=tmp_path,
    )
    card = json.loads((path / registry.CARD).read_text())
    assert card["trained_on"]["device"] == str(devices.device())
