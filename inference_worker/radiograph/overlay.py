"""Grad-CAM / Score-CAM of a radiograph model, put back on the ORIGINAL image.

The CAM is computed on the model grid (the crop resized to size x size), resized into
its crop box on a canvas of the original radiograph's shape (``preprocess.to_original``)
and written twice: a float16 ``.npy`` array (rows, cols), row 0 = top, aligned pixel for
pixel with the stored radiograph; and a PNG key image blending a colour map over the
radiograph as loaded (bone white), with the crop box outlined when there is one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image, ImageDraw

from inference_worker.radiograph.preprocess import Geometry, to_original
from inference_worker.saliency.gradcam import grad_cam
from inference_worker.saliency.scorecam import score_cam

METHODS = ("gradcam", "scorecam")
ALPHA = 0.5


def model_cams(
    network, x: np.ndarray, layer: str, methods=METHODS, class_index: int = 1, max_channels: int = 32
) -> dict[str, np.ndarray]:
    """{method: [0, 1] map on the model grid} for one normalised input (C, S, S), positive class."""
    xt = torch.as_tensor(x[None]).to(next(network.parameters()).device)
    maps = {}
    if "gradcam" in methods:
        maps["gradcam"] = grad_cam(network, xt, layer, class_index)
    if "scorecam" in methods:
        maps["scorecam"] = score_cam(network, xt, layer, class_index, max_channels=max_channels)
    return maps


def key_image(
    image: np.ndarray, heat: np.ndarray, box: tuple[int, int, int, int] | None = None
) -> Image.Image:
    """RGB PNG-ready blend: grey radiograph under a jet map weighted by the heat itself."""
    grey = np.clip(image, 0, 1)[..., None].repeat(3, axis=2)
    colour = colormaps["jet"](np.clip(heat, 0, 1))[..., :3]
    weight = ALPHA * np.clip(heat, 0, 1)[..., None]
    rgb = (1 - weight) * grey + weight * colour
    picture = Image.fromarray(np.rint(rgb * 255).astype(np.uint8), "RGB")
    if box is not None and box != (0, 0, image.shape[1], image.shape[0]):
        ImageDraw.Draw(picture).rectangle(
            [box[0], box[1], box[2] - 1, box[3] - 1],
            outline=(255, 255, 0),
            width=max(1, image.shape[0] // 400),
        )
    return picture


def write_overlays(
    image: np.ndarray, maps: dict[str, np.ndarray], geometry: Geometry, out_dir: str | Path, prefix: str
) -> dict[str, str]:
    """Write ``{prefix}_{method}.png`` and ``.npy``; return {artefact name: path relative to out_dir}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    artefacts = {}
    for method, cam in maps.items():
        full = to_original(cam, geometry)
        np.save(out / f"{prefix}_{method}.npy", full.astype(np.float16))
        # fast zlib level: key images are written per request, at full size
        key_image(image, full, geometry.box).save(out / f"{prefix}_{method}.png", compress_level=3)
        artefacts[f"{prefix}_{method}"] = f"{prefix}_{method}.png"
        artefacts[f"{prefix}_{method}_array"] = f"{prefix}_{method}.npy"
    return artefacts
