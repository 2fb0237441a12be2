"""Grad-CAM and Score-CAM on every device torch reports give the CPU's maps.

Score-CAM used to crash on CUDA (numpy of a device tensor, then CPU weights against
device activations); on a GPU machine this runs there too.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference_worker.saliency.gradcam import grad_cam
from inference_worker.saliency.scorecam import score_cam
from tests.worker.test_devices import available_devices


@pytest.mark.parametrize("device", available_devices())
def test_cams_on_every_device_match_the_cpu(device, blob_net, blob_images):
    x = blob_images[1]
    on_cpu = {"grad": grad_cam(blob_net, x, "5", 1), "score": score_cam(blob_net, x, "5", 1, max_channels=8)}
    net = blob_net.to(device)
    try:
        moved = {
            "grad": grad_cam(net, x.to(device), "5", 1),
            "score": score_cam(net, x.to(device), "5", 1, max_channels=8),
        }
    finally:
        blob_net.to("cpu")
    for name, cam in moved.items():
        assert isinstance(cam, np.ndarray) and cam.shape == on_cpu[name].shape
        assert np.corrcoef(cam.ravel(), on_cpu[name].ravel())[0, 1] >= 0.99, name
