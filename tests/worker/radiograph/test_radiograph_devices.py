"""Radiograph models score, embed, explain and train on the worker's device.

They used to be pinned to the CPU. Each path runs on every device torch reports and on
the test-only OTHER device (tests/worker/other_device.py), where a host/device mix-up
fails as it would on CUDA.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from inference_worker import devices
from inference_worker.radiograph.models import score_and_embed
from inference_worker.radiograph.networks import ARCHITECTURES, build_classifier
from inference_worker.radiograph.overlay import model_cams
from inference_worker.radiograph.recipes import TINY
from inference_worker.radiograph.training import predict, train_classifier
from tests.worker.other_device import placed
from tests.worker.test_devices import available_devices

DEVICES = [*available_devices(), "other"]


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 1, 32, 32)).astype(np.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_scores_embeddings_and_cams_match_the_cpu(device, architecture, images):
    torch.manual_seed(0)
    net = build_classifier(architecture, size=32, params=TINY["params"]).eval()
    probs, embeds = score_and_embed(net, images)
    cams = model_cams(net, images[0], net.cam_layers[0], max_channels=4)
    moved = copy.deepcopy(net)
    with placed(device) as target:
        moved.to(target)
        got_probs, got_embeds = score_and_embed(moved, images)
        got_cams = model_cams(moved, images[0], moved.cam_layers[0], max_channels=4)
        assert np.allclose(predict(moved, images), probs, atol=1e-4)
    assert np.allclose(got_probs, probs, atol=1e-4) and np.allclose(got_embeds, embeds, atol=1e-4)
    for name, cam in cams.items():
        assert got_cams[name].shape == cam.shape
        if cam.std() > 0:
            assert np.corrcoef(got_cams[name].ravel(), cam.ravel())[0, 1] >= 0.99, name


@pytest.mark.parametrize("device", DEVICES)
def test_training_runs_on_the_worker_device(device, images, monkeypatch):
    y = np.array([0, 1, 0, 1, 0, 1], dtype=np.float32)
    recipe = {**TINY, "epochs": 1, "batch_size": 3}
    torch.manual_seed(0)
    net = build_classifier("efficientnet-b0", size=32, params=TINY["params"])
    with placed(device) as target:
        monkeypatch.setattr(devices, "device", lambda: target)
        trained, report = train_classifier(net, images, y, images, y, recipe, seed=0)
        assert next(trained.parameters()).device == target
    assert len(report["history"]) == 1 and np.isfinite(report["history"][0]["train_loss"])
