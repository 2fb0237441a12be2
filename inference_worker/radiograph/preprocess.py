"""From a loaded radiograph to the model's square input, and back again.

``Geometry`` records exactly where the model input came from (the crop box in original
pixels and the output size), so a heat-map on the model grid can be put back on the
original image pixel for pixel: ``to_original`` is the inverse of ``to_model`` up to
interpolation. Boxes are (x0, y0, x1, y1), x = column, upper bounds exclusive, as in
the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from skimage import exposure

# Context around a lesion box: the margin of the lesion (sclerotic rim, periosteal
# reaction, soft-tissue swelling) is often the telling part and boxes are drawn tight.
DEFAULT_MARGIN = 0.15


@dataclass(frozen=True)
class Geometry:
    original_shape: tuple[int, int]  # rows, cols of the whole radiograph
    box: tuple[int, int, int, int]  # crop in original pixels (x0, y0, x1, y1), exclusive
    size: int  # the model input is size x size

    def as_dict(self) -> dict:
        return asdict(self)


def expand_box(
    box: tuple[int, int, int, int] | None, shape: tuple[int, int], margin: float = DEFAULT_MARGIN
) -> tuple[int, int, int, int]:
    """The lesion box grown by ``margin`` of its size on each side, made square, clipped to the image.

    Square because the model input is square: a stretched crop would change the
    lesion's shape the network sees from case to case. No box: the whole image.
    """
    rows, cols = shape
    if box is None:
        return (0, 0, cols, rows)
    x0, y0, x1, y1 = (int(v) for v in box)
    if not (0 <= x0 < x1 <= cols and 0 <= y0 < y1 <= rows):
        raise ValueError(f"lesion box {box} is outside the {cols}x{rows} image")
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    side = int(round(min(side, rows, cols)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nx0 = int(round(min(max(cx - side / 2, 0), cols - side)))
    ny0 = int(round(min(max(cy - side / 2, 0), rows - side)))
    return (nx0, ny0, nx0 + side, ny0 + side)


def clahe(image: np.ndarray, clip_limit: float = 0.01, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (seed 004's preprocessing) on [0, 1]."""
    kernel = max(8, min(image.shape) // tiles)
    return exposure.equalize_adapthist(
        np.clip(image, 0, 1), kernel_size=kernel, clip_limit=clip_limit
    ).astype(np.float32)


def _resize(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    t = torch.as_tensor(np.ascontiguousarray(array, dtype=np.float32))[None, None]
    # antialias when shrinking so a 1760-pixel film does not alias into moire at 224
    out = F.interpolate(t, size=shape, mode="bilinear", align_corners=False, antialias=True)
    return out[0, 0].numpy()


def to_model(
    image: np.ndarray,
    size: int,
    box: tuple[int, int, int, int] | None = None,
    margin: float = DEFAULT_MARGIN,
    use_clahe: bool = False,
) -> tuple[np.ndarray, Geometry]:
    """Crop (lesion box with margin, or the whole image) and resize to ``size`` x ``size``.

    CLAHE runs on the crop, before resizing, so its tiles see the original detail.
    A whole non-square image is resized without padding (aspect not kept): the
    geometry still inverts exactly, and padding would put fake borders in the input.
    """
    crop_box = expand_box(box, image.shape, margin)
    x0, y0, x1, y1 = crop_box
    crop = image[y0:y1, x0:x1]
    if use_clahe:
        crop = clahe(crop)
    return _resize(crop, (size, size)).astype(np.float32), Geometry(
        original_shape=(int(image.shape[0]), int(image.shape[1])), box=crop_box, size=int(size)
    )


def to_original(heatmap: np.ndarray, geometry: Geometry, fill: float = 0.0) -> np.ndarray:
    """A map on the model grid, resized into its crop box on a canvas of the original shape."""
    x0, y0, x1, y1 = geometry.box
    canvas = np.full(geometry.original_shape, fill, dtype=np.float32)
    canvas[y0:y1, x0:x1] = _resize(heatmap, (y1 - y0, x1 - x0))
    return canvas


def normalise(image: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Standardise with the training set's statistics (kept in the model card)."""
    return ((image - mean) / max(std, 1e-6)).astype(np.float32)
