"""Tiny networks for saliency tests: a 2D one trained for a few seconds on a blob task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

SIZE = 32
BLOB_AT = (16, 24)  # class 1 has a bright blob here, in the right half; class 0 is noise only


def _tiny_cnn(spatial_dims: int, out_channels: int, width: int = 32) -> nn.Sequential:
    conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
    pool = nn.AdaptiveAvgPool2d if spatial_dims == 2 else nn.AdaptiveAvgPool3d
    return nn.Sequential(
        conv(1, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        conv(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        conv(16, width, 3, stride=2, padding=1),
        nn.ReLU(inplace=True),  # "5": the target layer; inplace as in MONAI's nets
        pool(1),
        nn.Flatten(),
        nn.Linear(width, out_channels),
    )


def blob_image(cls: int, generator: torch.Generator) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(float(SIZE)), torch.arange(float(SIZE)), indexing="ij")
    cy, cx = BLOB_AT
    blob = cls * torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12.0)
    return (blob + 0.3 * torch.randn(SIZE, SIZE, generator=generator))[None]


@pytest.fixture(scope="session")
def blob_net() -> nn.Module:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = _tiny_cnn(2, 2)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(40):
        y = torch.randint(0, 2, (32,), generator=gen)
        x = torch.stack([blob_image(int(c), gen) for c in y])
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.zero_grad(set_to_none=True)
    net.eval()
    x = torch.stack([blob_image(c, gen) for c in (0, 1) * 20])
    acc = (net(x).argmax(1) == torch.tensor((0, 1) * 20)).float().mean()
    assert acc > 0.9, f"blob net failed to train (accuracy {acc:.2f})"
    return net


@pytest.fixture
def blob_images() -> dict[int, torch.Tensor]:
    gen = torch.Generator().manual_seed(123)
    return {c: blob_image(c, gen)[None] for c in (0, 1)}


def _hook_count(model: nn.Module) -> int:
    return sum(
        len(getattr(m, a))
        for m in model.modules()
        for a in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    )


@pytest.fixture
def tiny_cnn():
    """Factory: tiny_cnn(spatial_dims, out_channels, width=32); layer "5" is the last ReLU."""
    return _tiny_cnn


@pytest.fixture
def hook_count():
    """Function counting every hook registered anywhere in a model."""
    return _hook_count
