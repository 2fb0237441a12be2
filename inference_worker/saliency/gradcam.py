"""Grad-CAM through MONAI, returned as a plain [0, 1] map at the input's size."""

from __future__ import annotations

import numpy as np
import torch
from monai.visualize import GradCAM
from torch import nn

from ._common import WRAPPED, OutputsAsClasses, check_input, find_layer, normalise, untouched


def grad_cam(
    model: nn.Module, x: torch.Tensor, target_layer: str, class_index: int | None = None
) -> np.ndarray:
    """Grad-CAM map of ``class_index`` (None: the predicted class) for one 2D or 3D image.

    ``x`` is (1, C, *spatial); the result is float32 of shape ``spatial`` in [0, 1].
    For a single-logit model class 1 is the positive logit and class 0 its negation.
    """
    check_input(x)
    find_layer(model, target_layer)
    wrapped = OutputsAsClasses(model)
    with untouched(model), torch.enable_grad():
        # An input that needs grad makes the backward reach the target layer even when
        # every parameter is frozen; we never flip the model's own requires_grad flags.
        x = x.detach().clone().requires_grad_(True)
        cam = GradCAM(
            nn_module=wrapped,
            target_layers=WRAPPED + target_layer,
            # MONAI's default normaliser maps max -> 0 (for display); we want max -> 1.
            postprocessing=lambda m: m,
        )
        out = cam(x, class_idx=class_index)
    return normalise(out.detach().cpu().numpy()[0, 0])
