"""Manifest rows -> model-ready arrays for the radiograph tasks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from inference_worker import vocabulary as vocab
from inference_worker.io.radiograph import load_radiograph
from inference_worker.manifest import ManifestRow, read_manifest
from inference_worker.radiograph.domain import image_features
from inference_worker.radiograph.preprocess import to_model


def manifest_path(data: str | Path) -> Path:
    path = Path(data)
    return path / "manifest.csv" if path.is_dir() else path


def task_rows(data: str | Path, task: str, splits: tuple[str, ...] | None = None) -> list[ManifestRow]:
    rows = [r for r in read_manifest(manifest_path(data)) if r.task == task]
    if splits is not None:
        rows = [r for r in rows if r.split in splits]
    return rows


def labels(rows: list[ManifestRow], task: str) -> np.ndarray:
    """0/1 with 1 = the task's second class (infection, metastasis)."""
    positive = vocab.TASKS[task]["classes"][1]
    return np.array([vocab.task_class(task, r.diagnosis) == positive for r in rows], dtype=np.int64)


def mask_box(path: Path) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), upper bounds exclusive, of a mask PNG's non-zero pixels."""
    mask = np.asarray(Image.open(path)) > 0
    if not mask.any():
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def view_boxes(row: ManifestRow, views: int) -> list[tuple[int, int, int, int] | None]:
    """The lesion box of each view: the manifest's box for the first view; for the others the
    box of a ``<image stem>_mask.png`` lying next to the image (the phantoms' lateral_mask.png).

    A manifest row has one box column, but a spine study has two views of one vertebra.
    A view with no box gets None (the whole view).
    """
    boxes = [row.lesion_box]
    for v in range(1, views):
        image = Path(row.images[v])
        mask = image.with_name(f"{image.stem}_mask.png")
        boxes.append(mask_box(mask) if mask.is_file() else None)
    return boxes


def load_views(
    rows: list[ManifestRow], views: int, size: int, use_box: bool, use_clahe: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(n, views, size, size) un-normalised [0, 1] inputs and (n * views, FEATURES) domain features.

    ``use_box``: crop each view around its lesion box (``view_boxes``) when it has one.
    The domain features always describe the whole view, as the out-of-domain check sees it.
    """
    x = np.zeros((len(rows), views, size, size), dtype=np.float32)
    feats = []
    for i, row in enumerate(rows):
        if len(row.images) < views:
            raise ValueError(f"{row.case_id}: {views} views needed, {len(row.images)} given")
        boxes = view_boxes(row, views) if use_box else [None] * views
        for v in range(views):
            image = load_radiograph(row.images[v]).pixels
            box = boxes[v]
            x[i, v], _ = to_model(image, size, box=box, use_clahe=use_clahe)
            feats.append(image_features(image))
    return x, np.array(feats)
