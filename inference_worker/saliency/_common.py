"""Pieces shared by Grad-CAM and Score-CAM: output handling, input checks, clean-up."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

WRAPPED = "net."  # prefix of the caller's layer names inside OutputsAsClasses


class OutputsAsClasses(nn.Module):
    """Present a single-logit (sigmoid) model as a two-class one with logits [-z, z].

    softmax([-z, z])[1] is sigmoid(2z), not sigmoid(z), so scores are taken with
    ``class_probabilities`` (which knows the true output count); the wrapper only makes
    "class 0" of a binary model mean the negative logit, so both CAMs can explain a
    "negative" prediction the same way as any other class.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.n_outputs = 0  # the wrapped model's own output count, known after a forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x)
        self.n_outputs = int(z.shape[1])
        return torch.cat([-z, z], dim=1) if z.shape[1] == 1 else z


def class_probabilities(logits: torch.Tensor, n_outputs: int) -> torch.Tensor:
    """Class probabilities from model outputs: softmax, or sigmoid for one logit."""
    if n_outputs == 1:
        p = torch.sigmoid(logits[:, 1:2])  # wrapped logits are [-z, z]
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def check_input(x: torch.Tensor) -> None:
    if x.ndim not in (4, 5) or x.shape[0] != 1:
        raise ValueError(f"expected one image, shape (1, C, H, W) or (1, C, D, H, W); got {tuple(x.shape)}")


def normalise(cam: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] as float32; an all-flat map (nothing salient) stays all zero."""
    cam = np.asarray(cam, dtype=np.float32)
    lo, hi = float(cam.min()), float(cam.max())
    if not np.isfinite(hi - lo) or hi - lo <= 1e-12:
        return np.zeros_like(cam, dtype=np.float32)
    return ((cam - lo) / (hi - lo)).astype(np.float32)


def find_layer(model: nn.Module, name: str) -> nn.Module:
    layers = dict(model.named_modules())
    if name not in layers:
        raise ValueError(f"no layer named {name!r} in {type(model).__name__}")
    return layers[name]


@contextlib.contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Run a saliency method and leave the model as found.

    MONAI's GradCAM registers hooks it never removes, turns a target ReLU's ``inplace``
    off, and its backward fills parameter gradients; a worker serving many requests
    would otherwise pile up hooks and memory on the cached model.
    """
    modules = list(model.modules())
    hook_keys = [
        (m, attr, set(getattr(m, attr).keys()))
        for m in modules
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
        if hasattr(m, attr)
    ]
    inplace = [(m, m.inplace) for m in modules if isinstance(getattr(m, "inplace", None), bool)]
    params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    training = model.training
    try:
        model.eval()
        yield
    finally:
        for m, attr, keys in hook_keys:
            hooks = getattr(m, attr)
            for key in [k for k in hooks if k not in keys]:
                del hooks[key]
        for m, flag in inplace:
            m.inplace = flag
        for p, requires_grad, grad in params:
            p.requires_grad_(requires_grad)
            p.grad = grad
        model.train(training)
