"""The key image of a case and the arrays a marked region is scored against.

The key image is the middle instance of the case's first series: the one the reading
page shows for marking, so region coordinates are that image's pixels.

Reference tumour mask, first found wins:
1. ``case.annotations["labels"]["path"]`` (the cohort import's stored label map) or
   ``case.annotations["lesion_mask"]``: a storage-relative .npy / .png / NIfTI mask or
   label map (tumour = label 1; a 3-D array is sliced at the key image);
2. ``case.annotations["lesion_box"]``: ``x0,y0,x1,y1`` (string or list) on the key image
   (the cohort manifest's column);
3. the model's own tumour segmentation (a "labelmap" artefact), labelled as the
   model's so the reveal says so.
Heat-maps are the opinion's "heatmap" artefacts. Artefact kinds, paths and volume
layout ([slices, rows, cols], slice k on the k-th instance in stack order) follow
viewer.artefacts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

from cases.models import Case, Instance

log = logging.getLogger(__name__)


@dataclass
class KeyImage:
    instance: Instance
    series_index: int
    slice_index: int
    slice_count: int
    rows: int
    columns: int


def key_image(case: Case) -> KeyImage | None:
    from cases.selectors import case_series

    series = [s for s in case_series(case) if s.instance_count]
    if not series:
        return None
    instances = list(Instance.objects.filter(series=series[0]))
    middle = len(instances) // 2
    inst = instances[middle]
    rows = inst.rows or series[0].rows
    columns = inst.columns or series[0].columns
    if not rows or not columns:
        import pydicom

        ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / inst.path, stop_before_pixels=True)
        rows, columns = int(ds.Rows), int(ds.Columns)
    return KeyImage(inst, 0, middle, len(instances), int(rows), int(columns))


def _inside_media(relative: str) -> Path | None:
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def load_array(path: Path) -> np.ndarray | None:
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return z[z.files[0]]
        if path.suffix in (".png", ".jpg", ".jpeg"):
            # Raw values: a label PNG's 1s must stay 1s (heat-maps are scale-free here).
            return np.asarray(Image.open(path).convert("L"), dtype=float)
        if path.suffix in (".nii", ".gz"):
            import nibabel as nib

            # NIfTI is (x, y, z): to (z, row, col) like the DICOM stack.
            return np.transpose(np.asarray(nib.load(str(path)).dataobj), (2, 1, 0))
    except Exception:  # a damaged artefact must not break the reveal page
        log.warning("could not read artefact %s", path, exc_info=True)
    return None


def fit_to_key(array: np.ndarray, key: KeyImage, *, binary: bool) -> np.ndarray | None:
    """A 2-D map on the key image's pixel grid (3-D: the slice at the key image's depth)."""
    a = np.asarray(array, dtype=float)
    a = np.squeeze(a)
    if a.ndim == 3:
        z = min(a.shape[0] - 1, int(round(key.slice_index * a.shape[0] / max(key.slice_count, 1))))
        a = a[z]
    if a.ndim != 2:
        return None
    if a.shape != (key.rows, key.columns):
        resample = Image.Resampling.NEAREST if binary else Image.Resampling.BILINEAR
        a = np.asarray(Image.fromarray(a.astype(np.float32)).resize((key.columns, key.rows), resample))
    return a > 0 if binary else a


def reference_mask(case: Case, key: KeyImage, opinion=None) -> tuple[np.ndarray | None, str]:
    from teaching.scoring import box_mask

    notes = case.annotations or {}
    # The cohort import stores the manifest's label map as {"sha256", "path"}.
    labels = notes.get("labels")
    stored = notes.get("lesion_mask") or (labels.get("path") if isinstance(labels, dict) else None)
    if stored:
        path = _inside_media(str(stored))
        arr = load_array(path) if path else None
        if arr is not None:
            mask = fit_to_key(tumour_mask(arr), key, binary=True)
            if mask is not None:
                return mask, "reference segmentation"
    box = notes.get("lesion_box")
    if box:
        values = box.split(",") if isinstance(box, str) else box
        try:
            return box_mask([float(v) for v in values], (key.rows, key.columns)), "reference lesion box"
        except (TypeError, ValueError):
            pass
    for name, path in opinion_artefacts(opinion, "labelmap").items():
        arr = load_array(path)
        if arr is not None:
            mask = fit_to_key(tumour_mask(arr), key, binary=True)
            if mask is not None:
                return mask, f"model segmentation ({name})"
    return None, ""


def opinion_artefacts(opinion, kind: str) -> dict[str, Path]:
    """The opinion's artefacts of one kind ("heatmap" or "labelmap"), as the viewer reads them.

    viewer.artefacts owns the artefact contract (name -> path or {"path", "kind", ...}
    under the analysis' out_dir); reusing it keeps the reveal and the viewer in step.
    """
    if opinion is None:
        return {}
    from viewer.artefacts import artefacts_of

    return {
        name: a.path
        for name, a in artefacts_of(opinion.request, opinion).items()
        if a.kind == kind and a.path.is_file()
    }


def tumour_mask(array: np.ndarray) -> np.ndarray:
    """The tumour in a mask or label map.

    Two values (0/1, 0/255, False/True): a binary mask, foreground is tumour. More: a
    label map whose tumour is label 1 (the contract's), as sacral label maps also hold
    the hip bones under other labels, which must not count.
    """
    a = np.asarray(array, dtype=float)
    return a > 0 if np.unique(a).size <= 2 else np.isclose(a, 1.0)


def heatmaps(opinion, key: KeyImage) -> dict[str, np.ndarray]:
    maps = {}
    for name, path in opinion_artefacts(opinion, "heatmap").items():
        arr = load_array(path)
        if arr is not None:
            fitted = fit_to_key(arr, key, binary=False)
            if fitted is not None:
                maps[name] = fitted
    return maps
