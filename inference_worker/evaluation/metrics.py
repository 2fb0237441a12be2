"""Evaluation metrics of classifiers and segmentations, as JSON-ready dicts.

Point values come from scikit-learn; confidence intervals from our DeLong and
bootstrap in ``stats``. Every dict here can be stored as a model's metrics unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from .stats import auc_delong, bootstrap_ci

N_CALIBRATION_BINS = 10


def _macro_auc(y_idx: np.ndarray, probs: np.ndarray, columns: Sequence[int]) -> float | None:
    aucs = [
        skm.roc_auc_score(y_idx == c, probs[:, c]) for c in columns if 0 < np.sum(y_idx == c) < len(y_idx)
    ]
    return float(np.mean(aucs)) if aucs else None


def _reliability(y_idx: np.ndarray, probs: np.ndarray) -> tuple[float, list[dict[str, Any]]]:
    """Expected calibration error of the top-class confidence, equal-width bins on [0, 1]."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_idx
    edges = np.linspace(0.0, 1.0, N_CALIBRATION_BINS + 1)
    # right-closed bins so a confidence of exactly 1.0 lands in the last bin
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, N_CALIBRATION_BINS - 1)
    bins, ece = [], 0.0
    for b in range(N_CALIBRATION_BINS):
        sel = which == b
        count = int(sel.sum())
        mean_conf = float(conf[sel].mean()) if count else None
        acc = float(correct[sel].mean()) if count else None
        if count:
            ece += count / len(conf) * abs(acc - mean_conf)
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "confidence": mean_conf,
                "accuracy": acc,
            }
        )
    return float(ece), bins


def _metrics(
    y_idx: np.ndarray, probs: np.ndarray, pred: np.ndarray, classes: list[str], n_boot: int, seed: int
) -> dict[str, Any]:
    k, n = len(classes), len(y_idx)
    notes: list[str] = []
    # A class is scorable when it has both positives and negatives among the cases.
    scorable = [c for c in range(k) if 0 < np.sum(y_idx == c) < n]
    absent = [classes[c] for c in range(k) if not np.any(y_idx == c)]
    if absent:
        notes.append(f"classes absent from y_true (AUC None, left out of the macro averages): {absent}")

    auc: dict[str, float | None] = {c: None for c in classes}
    auc_ci_per_class: dict[str, list[float] | None] = {c: None for c in classes}
    for c in scorable:
        res = auc_delong(y_idx == c, probs[:, c])
        auc[classes[c]] = float(skm.roc_auc_score(y_idx == c, probs[:, c]))
        auc_ci_per_class[classes[c]] = [res.ci_low, res.ci_high]

    auc_macro = _macro_auc(y_idx, probs, scorable)
    auc_ci = None
    if k == 2 and 1 in scorable:
        auc_ci = auc_ci_per_class[classes[1]]
    elif auc_macro is not None and n_boot > 0:
        # stratified so each replicate keeps every class present in the sample
        lo, hi = bootstrap_ci(
            lambda y, p: _macro_auc(y, p, scorable), y_idx, probs, n_boot=n_boot, seed=seed, stratify=y_idx
        )
        auc_ci = [lo, hi]

    present = sorted(set(y_idx.tolist()))
    prec, rec, f1, _ = skm.precision_recall_fscore_support(
        y_idx, pred, labels=list(range(k)), zero_division=0
    )
    macro = skm.precision_recall_fscore_support(y_idx, pred, labels=present, average="macro", zero_division=0)
    ece, reliability = _reliability(y_idx, probs)
    return {
        "n": int(n),
        "classes": list(classes),
        "auc": auc,
        "auc_ci_per_class": auc_ci_per_class,
        "auc_macro": auc_macro,
        "auc_ci": auc_ci,
        "f1_macro": float(macro[2]),
        "precision_macro": float(macro[0]),
        "recall_macro": float(macro[1]),
        "precision": {c: float(v) for c, v in zip(classes, prec, strict=True)},
        "recall": {c: float(v) for c, v in zip(classes, rec, strict=True)},
        "f1": {c: float(v) for c, v in zip(classes, f1, strict=True)},
        "accuracy": float(skm.accuracy_score(y_idx, pred)),
        "confusion_matrix": skm.confusion_matrix(y_idx, pred, labels=list(range(k))).astype(int).tolist(),
        "calibration_error": ece,
        "reliability": reliability,
        "notes": notes,
    }


def _label_indices(y_true: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(y) for y in y_true if y not in index})
    if unknown:
        raise ValueError(f"labels not in classes: {unknown}")
    return np.array([index[y] for y in y_true], dtype=int)


def classification_metrics(
    y_true: Sequence[str], probs: Any, classes: Sequence[str], n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """All metrics of a k-class classifier from its class probabilities (rows sum to 1).

    Prediction is the arg-max class. ``auc_ci`` is DeLong's for the positive class
    (``classes[1]``) when k == 2, a stratified percentile bootstrap of the macro AUC
    otherwise. Classes never seen in ``y_true`` get AUC None and are left out of the
    macro averages; ``notes`` says so.
    """
    classes = list(classes)
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or p.shape != (len(y_true), len(classes)):
        raise ValueError(f"probs must be (n, k) = ({len(y_true)}, {len(classes)}), got {p.shape}")
    if len(y_true) == 0:
        raise ValueError("no cases to evaluate")
    y_idx = _label_indices(y_true, classes)
    return _metrics(y_idx, p, p.argmax(axis=1), classes, n_boot, seed)


def binary_metrics(
    y_true01: Any, score: Any, threshold: float = 0.5, classes: Sequence[str] = ("negative", "positive")
) -> dict[str, Any]:
    """``classification_metrics`` for one positive-class score in [0, 1] and a threshold."""
    y = np.asarray(y_true01).astype(int).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if y.shape != s.shape or len(y) == 0:
        raise ValueError("y_true01 and score must be non-empty and of equal length")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("y_true01 must hold only 0 and 1")
    probs = np.column_stack([1.0 - s, s])
    return _metrics(y, probs, (s >= threshold).astype(int), list(classes), 0, 0)


def dice(pred_mask: Any, ref_mask: Any) -> float:
    """Dice overlap of two binary masks; 1.0 when both are empty (nothing to find, nothing found).

    Plain numpy rather than monai's DiceMetric: that needs one-hot tensors and returns NaN
    for the empty-empty case we want scored as agreement.
    """
    a = np.asarray(pred_mask, dtype=bool)
    b = np.asarray(ref_mask, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def dice_per_structure(pred_labels: Any, ref_labels: Any, structures: Mapping[str, int]) -> dict[str, float]:
    """Dice of each named structure (label value) between two label maps."""
    p, r = np.asarray(pred_labels), np.asarray(ref_labels)
    return {name: dice(p == value, r == value) for name, value in structures.items()}
