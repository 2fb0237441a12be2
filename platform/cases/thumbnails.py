"""Server-side thumbnails of stored DICOM images with proper display windowing.

Rendered once per (instance, size) and cached beside the content-addressed objects,
so the library page never decodes a DICOM twice.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from django.conf import settings
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi_lut

THUMB_SIZE = 256


def _first(value):
    """WindowCenter/Width may be multi-valued; the first is the default."""
    return value[0] if isinstance(value, pydicom.multival.MultiValue) else value


def display_array(ds: pydicom.Dataset) -> np.ndarray:
    """uint8 greyscale for display: modality LUT, the file's VOI window, MONOCHROME1 inverted."""
    pixels = ds.pixel_array
    if pixels.ndim == 3 and getattr(ds, "SamplesPerPixel", 1) == 1:
        pixels = pixels[pixels.shape[0] // 2]  # multi-frame: the middle frame
    if getattr(ds, "SamplesPerPixel", 1) == 3:
        rgb = pixels.astype(np.float32)
        return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.uint8)
    values = apply_modality_lut(pixels, ds).astype(np.float32)
    if "VOILUTSequence" in ds:
        values = apply_voi_lut(values, ds, prefer_lut=True).astype(np.float32)
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        lo, hi = 0.0, float(2**bits - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        centre, width = (float(_first(ds.WindowCenter)), float(_first(ds.WindowWidth)))
        lo, hi = centre - width / 2, centre + width / 2
    else:
        # No window in the file: 1st-99th percentile, robust to collimator edges.
        lo, hi = (float(v) for v in np.percentile(values, [1, 99]))
    scaled = np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1)
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        scaled = 1.0 - scaled
    return (scaled * 255).astype(np.uint8)


def render_png(path: Path, size: int = THUMB_SIZE) -> bytes:
    ds = pydicom.dcmread(path)
    image = Image.fromarray(display_array(ds))
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def thumbnail_path(sha256: str, size: int = THUMB_SIZE) -> Path:
    return Path(settings.MEDIA_ROOT) / "thumbnails" / sha256[:2] / f"{sha256}-{size}.png"


def thumbnail_for(instance, size: int = THUMB_SIZE) -> Path:
    """The cached thumbnail file of a stored instance, rendered on first use."""
    target = thumbnail_path(instance.sha256, size)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        data = render_png(Path(settings.MEDIA_ROOT) / instance.path, size)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    return target
