"""Scoring one read: correctness against histopathology and region overlap.

Everything here is a pure function of plain values and numpy arrays so it is checked
against hand-computed numbers without a database.

Positive class per task (what the ROC curves and AUCs are about):
- sacral-ct: malignant (histopathology behaviour "malignant"; intermediate counts as
  not malignant, as in seed 000's benign-vs-malignant split);
- bone-xray: infection (seed 003 codes infection as 1);
- spine-xray: metastasis (seed 004).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.path import Path as PolygonPath

from inference_worker import vocabulary as vocab
from inference_worker.evaluation.metrics import dice

POSITIVE_CLASS = {"sacral-ct": None, "bone-xray": "infection", "spine-xray": "metastasis"}
CERTAINTY_RANK = {c: i for i, c in enumerate(vocab.CERTAINTIES)}  # possible=0 ... certain=3
MAX_REGION_POINTS = 200


def task_classes(task: str) -> tuple[str, ...]:
    return tuple(vocab.TASKS[task]["classes"])


def positive_label(task: str) -> str:
    return POSITIVE_CLASS.get(task) or "malignant"


def is_positive(task: str, task_class: str | None, malignant: bool | None) -> bool | None:
    """Whether a call (or the truth) is the task's positive class."""
    positive = POSITIVE_CLASS.get(task)
    if positive is None:
        return malignant
    return None if task_class is None else task_class == positive


def reader_score(positive: bool, certainty: str) -> int:
    """An 8-point confidence-rating score for ROC analysis of a reader.

    1 = certainly negative ... 4 = possibly negative, 5 = possibly positive ... 8 =
    certainly positive: the usual way to turn a call plus certainty into a rating scale.
    """
    rank = CERTAINTY_RANK.get(certainty, 0)
    return 5 + rank if positive else 4 - rank


# --- the model's opinion ---------------------------------------------------------------


def task_probabilities(result: Mapping, task: str) -> dict[str, float] | None:
    """The probabilities over the task's classes from a worker result, if it has them."""
    classes = set(task_classes(task))
    for opinion in result.get("opinions", []) or []:
        probs = opinion.get("probabilities") or {}
        if probs and set(probs) == classes:
            return {k: float(v) for k, v in probs.items()}
    return None


def malignancy_probability(result: Mapping, task: str) -> float | None:
    """P(malignant): a dedicated malignancy opinion if present, else summed class probabilities."""
    for opinion in result.get("opinions", []) or []:
        probs = opinion.get("probabilities") or {}
        if "malignant" in probs and set(probs) <= {"benign", "malignant"}:
            return float(probs["malignant"])
    probs = task_probabilities(result, task)
    if probs is None:
        return None
    return float(sum(p for c, p in probs.items() if c in vocab.DIAGNOSIS_BY_CODE and vocab.is_malignant(c)))


def model_positive_score(result: Mapping, task: str) -> float | None:
    positive = POSITIVE_CLASS.get(task)
    if positive is None:
        return malignancy_probability(result, task)
    probs = task_probabilities(result, task)
    return None if probs is None else probs.get(positive)


def model_top_class(result: Mapping, task: str) -> str | None:
    probs = task_probabilities(result, task)
    return max(probs, key=probs.get) if probs else None


# --- regions -----------------------------------------------------------------------------


class RegionError(ValueError):
    pass


def clean_region(region: Mapping | None, rows: int, columns: int) -> dict | None:
    """Validate a marked region and clip it to the image; None when nothing was marked."""
    if not region:
        return None
    shape = region.get("shape")
    points = region.get("points")
    if shape not in ("rect", "polygon") or not isinstance(points, list):
        raise RegionError("a region is a rect or polygon with a list of points")
    try:
        pts = [(float(x), float(y)) for x, y in points]
    except (TypeError, ValueError) as exc:
        raise RegionError("points must be [x, y] pairs of numbers") from exc
    if not all(np.isfinite(v) for p in pts for v in p):
        raise RegionError("points must be finite")
    if shape == "rect" and len(pts) != 2:
        raise RegionError("a rectangle has two corner points")
    if shape == "polygon" and not 3 <= len(pts) <= MAX_REGION_POINTS:
        raise RegionError(f"a polygon has 3 to {MAX_REGION_POINTS} points")
    pts = [(min(max(x, 0.0), float(columns)), min(max(y, 0.0), float(rows))) for x, y in pts]
    return {
        "shape": shape,
        "points": [[round(x, 2), round(y, 2)] for x, y in pts],
        "rows": rows,
        "columns": columns,
    }


def region_mask(region: Mapping, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (row, col) whose centres lie inside the region (image pixel coordinates, x right, y down)."""
    rows, cols = shape
    pts = np.asarray(region["points"], dtype=float)
    if region["shape"] == "rect":
        x0, x1 = sorted(pts[:, 0])
        y0, y1 = sorted(pts[:, 1])
        return box_mask((x0, y0, x1, y1), shape)
    yy, xx = np.mgrid[:rows, :cols]
    centres = np.column_stack([xx.ravel() + 0.5, yy.ravel() + 0.5])
    return PolygonPath(pts).contains_points(centres).reshape(rows, cols)


def box_mask(box: Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centres lie in [x0, x1] x [y0, y1] (the manifest's lesion_box convention)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    rows, cols = shape
    cx = np.arange(cols) + 0.5
    cy = np.arange(rows) + 0.5
    return ((cy >= y0) & (cy <= y1))[:, None] & ((cx >= x0) & (cx <= x1))[None, :]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union; 1.0 when both are empty, like metrics.dice."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


def heat_mass_inside(mask: np.ndarray, heat: np.ndarray) -> float | None:
    """Share of the heat-map's (non-negative) mass inside the region; None for an empty map."""
    h = np.clip(np.nan_to_num(np.asarray(heat, dtype=float)), 0, None)
    total = float(h.sum())
    return None if total <= 0 else float(h[np.asarray(mask, bool)].sum() / total)


def region_scores(
    region: Mapping | None, reference: np.ndarray | None, heatmaps: Mapping[str, np.ndarray]
) -> dict:
    """Overlap of a marked region with the tumour mask and the share of each heat-map inside it."""
    if not region:
        return {}
    shape = (int(region["rows"]), int(region["columns"]))
    mask = region_mask(region, shape)
    scores: dict = {"area_px": int(mask.sum())}
    if reference is not None and reference.shape == shape:
        scores["dice"] = round(float(dice(mask, reference)), 4)
        scores["iou"] = round(iou(mask, reference), 4)
    for name, heat in heatmaps.items():
        if heat.shape == shape:
            inside = heat_mass_inside(mask, heat)
            if inside is not None:
                scores[f"heat_inside_{name}"] = round(inside, 4)
    return scores
