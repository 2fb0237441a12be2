"""Load a projection radiograph as a grey-scale image with bone WHITE, values in [0, 1].

Sources: DICOM (CR, DX, secondary capture; any transfer syntax the installed pylibjpeg
plugins decode) and PNG/JPEG. The DICOM display pipeline is applied in the standard's
order: modality LUT (rescale), VOI LUT or window, then MONOCHROME1 inversion, so the
array the models see looks like what a PACS viewer shows. A header is also read for
the out-of-domain check (modality, body part), and nothing here needs pixel spacing:
many real radiographs carry none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi_lut

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Robust range for images without a window: a few hot or dead detector pixels must not
# set the grey scale.
ROBUST_PERCENTILES = (0.5, 99.5)


@dataclass
class Radiograph:
    pixels: np.ndarray  # float32 (rows, cols) in [0, 1], bone white, row 0 = top of the image
    source: str  # "dicom" or "picture"
    path: str
    modality: str = ""  # DICOM Modality ("CR", "DX", "CT", ...); "" for pictures
    body_part: str = ""
    view: str = ""
    photometric: str = ""
    pixel_spacing: tuple[float, float] | None = None  # mm (row, col), when the file says
    sop_instance_uid: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.pixels.shape)


def _robust_unit(values: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(values, ROBUST_PERCENTILES)
    if hi - lo <= 1e-6:
        lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-6:
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def _first_value(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        value = value[0] if len(value) else None
    return None if value is None else float(value)


def _grey(array: np.ndarray, photometric: str) -> np.ndarray:
    """Colour (secondary capture, RGB or YBR) -> luminance; grey stays as it is."""
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        if photometric.startswith("YBR"):
            return array[..., 0].astype(np.float32)
        rgb = array[..., :3].astype(np.float32)
        return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return array.astype(np.float32)


def _spacing(ds) -> tuple[float, float] | None:
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(tag)
        if value is not None and len(value) == 2:
            return (float(value[0]), float(value[1]))
    return None


def load_dicom_radiograph(path: str | Path) -> Radiograph:
    ds = pydicom.dcmread(str(path))
    if "PixelData" not in ds:
        raise ValueError(f"{path}: DICOM file has no pixel data")
    warnings: list[str] = []
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    array = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        warnings.append(f"{frames} frames: only the first is analysed")
        array = array[0]
    colour = array.ndim == 3
    grey = _grey(array, photometric)
    if colour:
        pixels = _robust_unit(grey)
        warnings.append(f"colour image ({photometric}) converted to grey")
    else:
        values = apply_modality_lut(grey, ds).astype(np.float32)
        pixels = _voi_unit(values, ds)
        if photometric == "MONOCHROME1":
            # Higher stored value = darker: invert so bone is white as on MONOCHROME2.
            pixels = 1.0 - pixels
        if str(ds.get("PresentationLUTShape", "")).upper() == "INVERSE":
            pixels = 1.0 - pixels
    return Radiograph(
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        source="dicom",
        path=str(path),
        modality=str(ds.get("Modality", "")),
        body_part=str(ds.get("BodyPartExamined", "")).upper(),
        view=str(ds.get("ViewPosition", "")).upper(),
        photometric=photometric,
        pixel_spacing=_spacing(ds),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        warnings=warnings,
    )


def _voi_unit(values: np.ndarray, ds) -> np.ndarray:
    """Modality values -> [0, 1] through the file's VOI LUT, else its first window, else robustly."""
    if "VOILUTSequence" in ds:
        return _robust_unit(apply_voi_lut(values, ds, index=0, prefer_lut=True).astype(np.float32))
    centre = _first_value(ds.get("WindowCenter"))
    width = _first_value(ds.get("WindowWidth"))
    if centre is None or width is None or width <= 1:
        return _robust_unit(values)
    # Reapply the linear window (PS3.3 C.11.2.1.2) ourselves: pydicom's output range
    # depends on BitsStored, ours must not.
    lo = centre - 0.5 - (width - 1) / 2
    hi = centre - 0.5 + (width - 1) / 2
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def load_picture_radiograph(path: str | Path) -> Radiograph:
    with Image.open(path) as image:
        mode = image.mode
        if mode in ("I;16", "I;16B", "I", "F"):
            array = np.asarray(image, dtype=np.float32)
        else:
            array = np.asarray(image.convert("L"), dtype=np.float32)
    warnings = [] if mode in ("L", "I;16", "I;16B", "I", "F") else [f"{mode} picture converted to grey"]
    return Radiograph(
        pixels=_robust_unit(array),
        source="picture",
        path=str(path),
        photometric="MONOCHROME2",
        warnings=warnings,
    )


def load_radiograph(path: str | Path) -> Radiograph:
    """One radiograph from a DICOM file (any name, extension or none) or a PNG/JPEG."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    if path.suffix.lower() in PICTURE_SUFFIXES:
        return load_picture_radiograph(path)
    try:
        return load_dicom_radiograph(path)
    except pydicom.errors.InvalidDicomError:
        pass
    try:
        return load_picture_radiograph(path)
    except OSError:
        raise ValueError(f"{path} is neither DICOM nor a PNG/JPEG picture") from None
