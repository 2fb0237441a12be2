"""Manifest rows -> model-ready arrays for the radiograph tasks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def load_views(
    rows: list[ManifestRow], views: int, size: int, use_box: bool, use_clahe: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(n, views, size, size) un-normalised [0, 1] inputs and (n * views, FEATURES) domain features.

    ``use_box``: crop the first view around the manifest's lesion box (bone-xray); the
    spine task looks at whole views (the box covers only the AP view).
    """
    x = np.zeros((len(rows), views, size, size), dtype=np.float32)
    feats = []
    for i, row in enumerate(rows):
        if len(row.images) < views:
            raise ValueError(f"{row.case_id}: {views} views needed, {len(row.images)} given")
        for v in range(views):
            image = load_radiograph(row.images[v]).pixels
            box = row.lesion_box if (use_box and v == 0) else None
            x[i, v], _ = to_model(image, size, box=box, use_clahe=use_clahe)
            feats.append(image_features(image))
    return x, np.array(feats)
