"""Grad-CAM wrapper: shape, range, localisation, and a model left as found."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference_worker.saliency import grad_cam

LAYER = "5"


@pytest.mark.parametrize("dims,shape", [(2, (1, 1, 32, 24)), (3, (1, 1, 16, 16, 12))])
def test_shape_range_dtype(dims, shape, tiny_cnn):
    torch.manual_seed(1)
    net = tiny_cnn(dims, 3)
    cam = grad_cam(net, torch.randn(shape), LAYER, class_index=2)
    assert cam.shape == shape[2:] and cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() <= 1.0


def test_peak_falls_in_the_blob_half(blob_net, blob_images):
    cam = grad_cam(blob_net, blob_images[1], LAYER, class_index=None)
    _, col = np.unravel_index(np.argmax(cam), cam.shape)
    assert col >= 16, f"peak at column {col}, the blob is in the right half"


def test_model_left_as_found(blob_net, blob_images, hook_count):
    blob_net.train()
    blob_net[0].weight.requires_grad_(False)  # a frozen layer must stay frozen
    before = hook_count(blob_net)
    try:
        first = grad_cam(blob_net, blob_images[1], LAYER)
        second = grad_cam(blob_net, blob_images[1], LAYER)
        assert hook_count(blob_net) == before == 0
        assert blob_net.training
        assert not blob_net[0].weight.requires_grad and blob_net[2].weight.requires_grad
        assert blob_net[5].inplace  # MONAI turns it off; we put it back
        assert all(p.grad is None for p in blob_net.parameters())
        np.testing.assert_array_equal(first, second)
    finally:
        blob_net[0].weight.requires_grad_(True)
        blob_net.eval()


def test_single_logit_model_explains_both_classes(tiny_cnn):
    torch.manual_seed(2)
    net = tiny_cnn(2, 1)
    x = torch.randn(1, 1, 32, 32)
    pos = grad_cam(net, x, LAYER, class_index=1)
    neg = grad_cam(net, x, LAYER, class_index=0)
    assert pos.shape == neg.shape == (32, 32)
    assert not np.allclose(pos, neg)


def test_bad_layer_or_batch_rejected(tiny_cnn):
    net = tiny_cnn(2, 2)
    with pytest.raises(ValueError):
        grad_cam(net, torch.randn(1, 1, 32, 32), "nope")
    with pytest.raises(ValueError):
        grad_cam(net, torch.randn(2, 1, 32, 32), LAYER)
