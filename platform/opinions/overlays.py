"""Worker artefacts made ready for the viewer's overlay contract (static/viewer/README.md).

The pipelines write what suits them: the sacral CT pipeline NIfTI volumes on its own
RAS voxel grid (labels, Grad-CAM, Score-CAM), the radiograph pipelines float16 arrays
aligned with the radiograph. The viewer wants, per overlay, a C-ordered uint8 / float32
array whose slice k lies on image k of one stored series, rows x cols as the DICOM
pixels. This module resamples each artefact onto the stored instances by their own
geometry (ImagePositionPatient, orientation, spacing), so what the viewer draws sits on
the anatomy whatever order or orientation the scanner used; it also places the tumour
marker at the labelmap's tumour centroid in DICOM patient coordinates.

The results become artefacts declared explicitly (``kind``, ``series_uid``,
``overlay``) under ``viewer/`` in the request's folder; viewer.selectors lists declared
overlays only, so the raw files are not offered a second time.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from django.conf import settings

from cases.models import Instance, Series
from opinions.models import AnalysisRequest

log = logging.getLogger(__name__)

FOLDER = "viewer"
# The sacral pipeline's label values (inference_worker.sacral.preprocess.STRUCTURES).
SACRAL_STRUCTURES = [
    {"value": 1, "name": "Tumour", "color": [255, 48, 48]},
    {"value": 2, "name": "Left hip bone", "color": [0, 200, 255]},
    {"value": 3, "name": "Right hip bone", "color": [255, 0, 255]},
    {"value": 4, "name": "Sacrum", "color": [64, 220, 64]},
]
TUMOUR_VALUE = 1
HEATMAP_METHODS = ("gradcam", "scorecam")
METHOD_LABELS = {"gradcam": "Grad-CAM", "scorecam": "Score-CAM"}
NIFTI_SUFFIXES = (".nii", ".nii.gz")
# DICOM patient space (LPS) and NIfTI world space (RAS) differ in the sign of x and y.
LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])


def _save(array: np.ndarray, folder: Path, name: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npy.tmp")
    with os.fdopen(fd, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array))
    os.replace(tmp, folder / f"{name}.npy")
    return f"{FOLDER}/{name}.npy"


def _stack(series: Series) -> list[dict]:
    # The order viewer.selectors shows images in (slice location, instance number, id).
    from viewer.selectors import STACK_ORDER

    return list(
        Instance.objects.filter(series=series)
        .order_by(*STACK_ORDER)
        .values("image_position", "rows", "columns")
    )


def _volume_series(case) -> Series | None:
    """The CT series a volume artefact belongs to: the case's multi-slice CT series."""
    candidates = [
        s
        for s in Series.objects.filter(study__case=case, modality="CT").order_by("study_id", "number", "id")
        if s.orientation and s.pixel_spacing
    ]
    return max(candidates, key=lambda s: s.instances.count(), default=None)


def world_points(series: Series, stack: list[dict]) -> np.ndarray:
    """LPS mm of every pixel centre of the stack, shaped (slices, rows, cols, 3)."""
    orientation = np.array(series.orientation, dtype=float)
    row_dir, col_dir = orientation[:3], orientation[3:]
    row_spacing, col_spacing = (float(v) for v in series.pixel_spacing)
    rows, cols = int(stack[0]["rows"]), int(stack[0]["columns"])
    r = np.arange(rows, dtype=float)[:, None, None] * row_spacing * col_dir
    c = np.arange(cols, dtype=float)[None, :, None] * col_spacing * row_dir
    plane = r + c  # (rows, cols, 3): column index moves along the row direction
    origins = np.array([entry["image_position"] for entry in stack], dtype=float)
    return origins[:, None, None, :] + plane[None]


def resample_nifti(path: Path, series: Series, stack: list[dict], *, labels: bool) -> np.ndarray:
    """The NIfTI volume sampled at each stored pixel: nearest for labels, linear for maps."""
    import nibabel as nib
    from scipy import ndimage

    image = nib.load(str(path))
    data = np.asarray(image.dataobj)
    points = world_points(series, stack) * LPS_TO_RAS
    inverse = np.linalg.inv(image.affine)
    voxels = points @ inverse[:3, :3].T + inverse[:3, 3]
    coordinates = np.moveaxis(voxels, -1, 0).reshape(3, -1)
    if labels:
        sampled = ndimage.map_coordinates(data.astype(np.uint8), coordinates, order=0, cval=0)
        return sampled.reshape(voxels.shape[:3]).astype(np.uint8)
    sampled = ndimage.map_coordinates(data.astype(np.float32), coordinates, order=1, cval=0.0)
    return np.clip(sampled.reshape(voxels.shape[:3]), 0.0, 1.0).astype(np.float32)


def tumour_marker(path: Path) -> dict | None:
    """The tumour centroid of a label NIfTI in DICOM patient coordinates (LPS mm)."""
    import nibabel as nib

    image = nib.load(str(path))
    found = np.argwhere(np.asarray(image.dataobj) == TUMOUR_VALUE)
    if not len(found):
        return None
    centre = found.mean(axis=0)
    ras = image.affine[:3, :3] @ centre + image.affine[:3, 3]
    return {"world": [round(float(v), 2) for v in ras * LPS_TO_RAS], "label": "Tumour (model)"}


def focus_index(labels: np.ndarray, series: Series, stack: list[dict], marker: dict | None) -> int | None:
    """The image the result page opens on: the one nearest the tumour marker when it holds
    tumour (the marker is drawn there too), else the one with most tumour; None: no tumour."""
    tumour_pixels = (labels == TUMOUR_VALUE).sum(axis=(1, 2))
    if not tumour_pixels.any():
        return None
    if marker is not None:
        orientation = np.array(series.orientation, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        depths = np.array([entry["image_position"] for entry in stack], dtype=float) @ normal
        nearest = int(np.argmin(np.abs(depths - np.dot(marker["world"], normal))))
        if tumour_pixels[nearest]:
            return nearest
    return int(tumour_pixels.argmax())


def _is_nifti(relative: str) -> bool:
    return relative.lower().endswith(NIFTI_SUFFIXES)


def _ct_overlays(request: AnalysisRequest, root: Path, raw: dict) -> tuple[dict, dict | None]:
    series = _volume_series(request.case)
    if series is None:
        return {}, None
    stack = _stack(series)
    if not stack or any(e["image_position"] is None for e in stack):
        return {}, None
    declared, marker = {}, None
    labels = raw.get("labels")
    if isinstance(labels, str) and _is_nifti(labels) and (root / labels).is_file():
        volume = resample_nifti(root / labels, series, stack, labels=True)
        declared["overlay_labels"] = {
            "path": _save(volume, root / FOLDER, "labels"),
            "kind": "labelmap",
            "series_uid": series.series_uid,
            "structures": SACRAL_STRUCTURES,
        }
        marker = tumour_marker(root / labels)
        focus = focus_index(volume, series, stack, marker)
        if focus is not None:
            declared["overlay_labels"]["focus_index"] = focus
    for method in HEATMAP_METHODS:
        relative = raw.get(method)
        if isinstance(relative, str) and _is_nifti(relative) and (root / relative).is_file():
            heat = resample_nifti(root / relative, series, stack, labels=False)
            declared[f"overlay_{method}"] = {
                "path": _save(heat, root / FOLDER, method),
                "kind": "heatmap",
                "overlay": method,
                "volume_kind": "volume",
                "series_uid": series.series_uid,
            }
    return declared, marker


def _radiograph_series(case, shape: tuple[int, int], prefix: str) -> Series | None:
    """The stored radiograph a 2D map is aligned with: same size; the view named in the prefix first."""
    matches = [
        s
        for s in Series.objects.filter(study__case=case).order_by("study_id", "number", "id")
        if (s.rows, s.columns) == shape
    ]
    named = [s for s in matches if s.view_position and s.view_position.lower() in prefix.lower()]
    return (named or matches or [None])[0]


def _radiograph_overlays(request: AnalysisRequest, root: Path, raw: dict) -> dict:
    arrays = {
        name: value
        for name, value in raw.items()
        if isinstance(value, str) and name.endswith("_array") and value.endswith(".npy")
    }
    declared = {}
    for name, relative in arrays.items():
        method = next((m for m in HEATMAP_METHODS if name.endswith(f"_{m}_array")), None)
        if method is None or not (root / relative).is_file():
            continue
        heat = np.load(root / relative)
        if heat.ndim != 2:
            continue
        prefix = name.removesuffix(f"_{method}_array")
        series = _radiograph_series(request.case, heat.shape, prefix)
        if series is None:
            continue
        # One map per method keeps the viewer's Grad-CAM / Score-CAM switch; more views get their prefix.
        several = sum(n.endswith(f"_{method}_array") for n in arrays) > 1
        overlay = f"{prefix} {METHOD_LABELS[method]}" if several else method
        declared[f"overlay_{prefix}_{method}"] = {
            "path": _save(np.clip(heat, 0, 1).astype(np.float32)[None], root / FOLDER, f"{prefix}_{method}"),
            "kind": "heatmap",
            "overlay": overlay,
            "volume_kind": "image",
            "series_uid": series.series_uid,
        }
    return declared


def with_viewer_overlays(request: AnalysisRequest, result: dict) -> dict:
    """A copy of `result` with viewer-ready overlay artefacts (and the marker) added.

    A failure here loses no opinion: the result is kept as it came, with a warning.
    """
    raw = result.get("artefacts")
    if not isinstance(raw, dict) or not raw:
        return result
    root = Path(settings.MEDIA_ROOT) / request.out_dir
    try:
        if any(isinstance(v, str) and _is_nifti(v) for v in raw.values()):
            declared, marker = _ct_overlays(request, root, raw)
        else:
            declared, marker = _radiograph_overlays(request, root, raw), None
    except Exception as exc:  # noqa: BLE001 - overlays are an extra; the opinion must be kept
        log.exception("viewer overlays of request %s not made", request.public_id)
        return {**result, "warnings": [*result.get("warnings", []), f"viewer overlays not made: {exc}"]}
    updated = {**result, "artefacts": {**raw, **declared}}
    if marker is not None and "marker" not in result:
        updated["marker"] = marker
    return updated
