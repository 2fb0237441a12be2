"""classification_metrics / binary_metrics / dice against sklearn and hand counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from inference_worker.evaluation.metrics import (
    binary_metrics,
    classification_metrics,
    dice,
    dice_per_structure,
)

CLASSES = ["metastasis", "chondrosarcoma", "osteosarcoma", "chordoma", "neurogenic", "giant_cell"]
KEYS = {
    "n", "classes", "auc", "auc_ci_per_class", "auc_macro", "auc_ci", "f1_macro", "precision_macro",
    "recall_macro", "precision", "recall", "f1", "accuracy", "confusion_matrix", "calibration_error",
    "reliability", "notes",
}  # fmt: skip


def fake_probs(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.5
    p = np.exp(logits)
    return y, p / p.sum(1, keepdims=True)


def test_multiclass_matches_sklearn():
    y, p = fake_probs(150, 6, 0)
    labels = [CLASSES[i] for i in y]
    m = classification_metrics(labels, p, CLASSES, n_boot=200, seed=0)
    assert set(m) == KEYS
    json.dumps(m)  # must be storable as is
    assert m["n"] == 150
    assert m["auc_macro"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    for i, c in enumerate(CLASSES):
        assert m["auc"][c] == pytest.approx(skm.roc_auc_score(y == i, p[:, i]))
        lo, hi = m["auc_ci_per_class"][c]
        assert lo < m["auc"][c] < hi
    pred = p.argmax(1)
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall_macro"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert m["f1"]["chordoma"] == pytest.approx(skm.f1_score(y == 3, pred == 3))
    lo, hi = m["auc_ci"]
    assert lo < m["auc_macro"] < hi
    assert m["auc_ci"] == classification_metrics(labels, p, CLASSES, n_boot=200, seed=0)["auc_ci"]


def test_calibration_error_by_hand():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.35, 0.65], [0.4, 0.6]])
    m = classification_metrics(["a", "b", "b", "b"], probs, ["a", "b"], n_boot=0)
    # bin (0.9, 1]: conf 0.95, acc 0.5; bin (0.6, 0.7]: conf 0.625, acc 1
    assert m["calibration_error"] == pytest.approx(0.5 * 0.45 + 0.5 * 0.375)
    counts = [b["count"] for b in m["reliability"]]
    assert len(counts) == 10 and sum(counts) == 4 and counts[9] == 2 and counts[5] == 1 and counts[6] == 1


def test_absent_class_does_not_crash():
    y, p = fake_probs(60, 3, 1)
    p = np.column_stack([p, np.full(60, 0.01)])
    p /= p.sum(1, keepdims=True)
    classes = ["a", "b", "c", "never"]
    m = classification_metrics([classes[i] for i in y], p, classes, n_boot=100)
    assert m["auc"]["never"] is None and m["auc_ci_per_class"]["never"] is None
    present = [skm.roc_auc_score(y == i, p[:, i]) for i in range(3)]
    assert m["auc_macro"] == pytest.approx(np.mean(present))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, p.argmax(1), labels=[0, 1, 2], average="macro"))
    assert any("never" in note for note in m["notes"])
    assert len(m["confusion_matrix"]) == 4


def test_binary_uses_delong_of_positive_class_and_threshold():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 80)
    s = np.clip(0.3 * y + rng.normal(0.35, 0.2, 80), 0, 1)
    m = binary_metrics(y, s, threshold=0.4, classes=["tumour", "infection"])
    assert m["auc"]["infection"] == pytest.approx(skm.roc_auc_score(y, s))
    assert m["auc_macro"] == pytest.approx(skm.roc_auc_score(y, s))
    assert m["auc_ci"] == m["auc_ci_per_class"]["infection"]
    pred = (s >= 0.4).astype(int)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert m["recall"]["infection"] == pytest.approx(skm.recall_score(y, pred))
    m2 = classification_metrics(
        [["negative", "positive"][i] for i in y], np.column_stack([1 - s, s]), ["negative", "positive"]
    )
    assert m2["auc_ci"] == binary_metrics(y, s)["auc_ci"]


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        classification_metrics(["a", "z"], np.eye(2), ["a", "b"])
    with pytest.raises(ValueError):
        classification_metrics(["a", "b"], np.eye(3), ["a", "b"])


def test_dice():
    a = np.zeros((4, 4, 4), bool)
    b = np.zeros((4, 4, 4), bool)
    assert dice(a, b) == 1.0
    a[0, :2] = True  # 8 voxels
    assert dice(a, b) == 0.0
    b[0, 1:3] = True  # 8 voxels, 4 shared
    assert dice(a, b) == pytest.approx(0.5)
    pred = np.zeros((3, 3), int)
    ref = np.zeros((3, 3), int)
    pred[0, 0] = ref[0, 0] = 1
    pred[2, 2] = 2
    assert dice_per_structure(pred, ref, {"tumour": 1, "hip_bone": 2, "other": 3}) == {
        "tumour": 1.0,
        "hip_bone": 0.0,
        "other": 1.0,
    }
