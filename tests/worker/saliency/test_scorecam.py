"""Score-CAM: the fast variant tracks the textbook one on small 2D and 3D networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference_worker.saliency import score_cam, score_cam_reference

LAYER = "5"


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_fast_tracks_reference_2d(blob_net, blob_images):
    x = blob_images[1]
    ref = score_cam_reference(blob_net, x, LAYER)
    fast = score_cam(blob_net, x, LAYER, max_channels=12, batch_size=8)
    assert ref.shape == fast.shape == (32, 32) and fast.dtype == np.float32
    assert 0.0 <= fast.min() and fast.max() <= 1.0
    assert pearson(fast, ref) >= 0.95
    _, col = np.unravel_index(np.argmax(ref), ref.shape)
    assert col >= 16, "Score-CAM should point at the blob (right half)"


def test_fast_tracks_reference_3d(tiny_cnn):
    torch.manual_seed(7)
    net = tiny_cnn(3, 4, width=48).eval()  # 48 channels at 2x2x2: 12 scored, 36 predicted
    x = torch.zeros(1, 1, 16, 16, 16)
    x[0, 0, 2:7, 9:14, 4:9] = 2.0
    x += 0.2 * torch.randn_like(x)
    ref = score_cam_reference(net, x, LAYER, class_index=2)
    fast = score_cam(net, x, LAYER, class_index=2, max_channels=12)
    assert fast.shape == (16, 16, 16)
    assert ref.max() == 1.0, "untrained nets can give an all-zero map; this seed does not"
    assert pearson(fast, ref) >= 0.95


def test_scoring_every_channel_is_the_reference(blob_net, blob_images):
    x = blob_images[0]
    ref = score_cam_reference(blob_net, x, LAYER, class_index=1)
    full = score_cam(blob_net, x, LAYER, class_index=1, max_channels=None, batch_size=5)
    np.testing.assert_allclose(full, ref, atol=1e-5)


def test_none_means_predicted_class(blob_net, blob_images):
    x = blob_images[1]
    predicted = int(blob_net(x).argmax(1))
    np.testing.assert_array_equal(score_cam(blob_net, x, LAYER), score_cam(blob_net, x, LAYER, predicted))


@pytest.mark.parametrize("class_index", [0, 1, None])
def test_single_logit_sigmoid_model(tiny_cnn, class_index):
    torch.manual_seed(4)
    net = tiny_cnn(2, 1).eval()
    x = torch.randn(1, 1, 32, 32)
    ref = score_cam_reference(net, x, LAYER, class_index)
    fast = score_cam(net, x, LAYER, class_index, max_channels=None)
    assert ref.shape == (32, 32)
    np.testing.assert_allclose(fast, ref, atol=1e-5)


def test_deterministic_and_leaves_no_hooks(blob_net, blob_images, hook_count):
    x = blob_images[1]
    a = score_cam(blob_net, x, LAYER, max_channels=10)
    b = score_cam(blob_net, x, LAYER, max_channels=10)
    score_cam_reference(blob_net, x, LAYER)
    np.testing.assert_array_equal(a, b)
    assert hook_count(blob_net) == 0
    assert all(p.requires_grad and p.grad is None for p in blob_net.parameters())
