"""Grad-CAM and Score-CAM on every device give the CPU's maps, and never mix host and device.

Besides each device torch reports (the CPU here; CUDA on a GPU machine) they run on the
test-only OTHER device (tests/worker/other_device.py): real values computed on the CPU,
but ``.numpy()`` without ``.cpu()`` and host/device mixes fail as they do on CUDA. The
H200 crashes in Score-CAM were of exactly those two kinds, and these tests fail on that
code (checked against the Score-CAM of 8968dc1).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from inference_worker.saliency.gradcam import grad_cam
from inference_worker.saliency.scorecam import score_cam, score_cam_reference
from tests.worker.other_device import OTHER, DeviceMixError, other_device, placed
from tests.worker.test_devices import available_devices

METHODS = {
    "gradcam": lambda net, x: grad_cam(net, x, "5", 1),
    "scorecam": lambda net, x: score_cam(net, x, "5", 1, max_channels=8),
    "scorecam-every-channel": lambda net, x: score_cam(net, x, "5", 1, max_channels=None),
    "scorecam-reference": lambda net, x: score_cam_reference(net, x, "5", 1),
}


def test_the_other_device_fails_like_cuda():
    with other_device():
        x = torch.ones(3, 4).to(OTHER)
        assert x.device == OTHER
        with pytest.raises(RuntimeError):
            x.numpy()
        with pytest.raises(DeviceMixError):
            x + torch.ones(3, 4)
        assert np.array_equal((x * 2).cpu().numpy(), np.full((3, 4), 2.0))


@pytest.mark.parametrize("device", [*available_devices(), "other"])
@pytest.mark.parametrize("method", METHODS)
def test_cams_on_every_device_match_the_cpu(device, method, blob_net, blob_images):
    x = blob_images[1]
    expected = METHODS[method](blob_net, x)
    net = copy.deepcopy(blob_net)  # the session's network stays on the CPU
    with placed(device) as target:
        cam = METHODS[method](net.to(target), x.to(target))
    assert isinstance(cam, np.ndarray) and cam.dtype == expected.dtype and cam.shape == expected.shape
    assert expected.std() > 0
    assert np.corrcoef(cam.ravel(), expected.ravel())[0, 1] >= 0.99
