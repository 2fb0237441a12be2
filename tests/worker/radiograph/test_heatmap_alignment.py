"""Heat-maps land on the lesion in ORIGINAL pixel coordinates (crop and resize undone).

The network is a fixed, hand-set one whose score grows with local brightness, so both
CAMs must peak on the one bright lesion; the image, the lesion and the box are
asymmetric, so a flip, a transpose or a misplaced crop would move the peak.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from inference_worker.radiograph.networks import RadiographClassifier
from inference_worker.radiograph.overlay import model_cams, write_overlays
from inference_worker.radiograph.preprocess import expand_box, to_model, to_original

LESION = (220, 50)  # row, col


class BrightnessEncoder(nn.Module):
    channels = 4

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0 / 9)
            self.conv.weight[1:] *= torch.arange(2, 5, dtype=torch.float32)[:, None, None, None]

    def forward(self, x):
        return torch.relu(self.conv(x))


def _image() -> np.ndarray:
    rows, cols = np.mgrid[:300, :200]
    image = np.full((300, 200), 0.1, dtype=np.float32)
    image[(rows - LESION[0]) ** 2 + (cols - LESION[1]) ** 2 < 64] = 1.0
    image[20:40, 150:190] = 0.3  # a dim marker elsewhere, top right
    return image


def _network() -> RadiographClassifier:
    net = RadiographClassifier([BrightnessEncoder()], dropout=0.0)
    with torch.no_grad():
        net.fc.weight.fill_(1.0)
        net.fc.bias.fill_(-1.0)
    return net.eval()


def test_expand_box_is_square_contains_the_box_and_stays_inside():
    x0, y0, x1, y1 = expand_box((30, 200, 75, 245), (300, 200))
    assert x1 - x0 == y1 - y0 == 58  # 45 px box + 15 % margin on each side
    assert x0 <= 30 and y0 <= 200 and x1 >= 75 and y1 >= 245
    x0, y0, x1, y1 = expand_box((0, 0, 190, 10), (300, 200))
    assert (x0, y0) == (0, 0) and x1 - x0 == y1 - y0 <= 200
    with pytest.raises(ValueError):
        expand_box((0, 0, 500, 10), (300, 200))


def test_to_original_is_the_inverse_of_to_model():
    image = _image()
    model_grid, geometry = to_model(image, 32, box=(30, 200, 75, 245))
    back = to_original(model_grid, geometry)
    x0, y0, x1, y1 = geometry.box
    assert back.shape == image.shape
    assert np.all(back[:y0] == 0) and np.all(back[:, x1:] == 0)
    assert np.abs(back[y0:y1, x0:x1] - image[y0:y1, x0:x1]).mean() < 0.08


@pytest.mark.parametrize("box", [(30, 200, 75, 245), None], ids=["lesion-box", "whole-image"])
def test_both_cams_peak_on_the_lesion_in_original_coordinates(tmp_path, box):
    image = _image()
    x, geometry = to_model(image, 32, box=box)
    maps = model_cams(_network(), ((x - 0.2) / 0.3)[None], "cam.0", max_channels=None)
    artefacts = write_overlays(image, maps, geometry, tmp_path, "toy")
    for method in ("gradcam", "scorecam"):
        heat = np.load(tmp_path / artefacts[f"toy_{method}_array"]).astype(np.float32)
        assert heat.shape == image.shape
        peak = np.unravel_index(np.argmax(heat), heat.shape)
        assert abs(peak[0] - LESION[0]) <= 8 and abs(peak[1] - LESION[1]) <= 8, (method, peak)
        key = np.asarray(Image.open(tmp_path / artefacts[f"toy_{method}"]))
        assert key.shape == (*image.shape, 3)
        # The key image keeps the radiograph's grey scale where there is no heat.
        assert key[5, 100, 0] == key[5, 100, 1] == key[5, 100, 2] == round(0.1 * 255)
