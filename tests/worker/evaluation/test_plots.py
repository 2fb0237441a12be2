"""Evaluation figures are written as real PNGs, for multi-class and binary problems."""

from __future__ import annotations

import numpy as np
from PIL import Image

from inference_worker.evaluation.metrics import classification_metrics
from inference_worker.evaluation.plots import write_evaluation_plots


def _probs(n: int, k: int, seed: int) -> tuple[list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.0
    p = np.exp(logits)
    return list(y), p / p.sum(1, keepdims=True)


def test_writes_all_figures(tmp_path):
    classes = ["metastasis", "chondrosarcoma", "osteosarcoma", "chordoma", "neurogenic", "giant_cell"]
    y, p = _probs(90, 6, 0)
    labels = [classes[i] for i in y]
    m = classification_metrics(labels, p, classes, n_boot=20)
    paths = write_evaluation_plots(m, labels, p, classes, tmp_path / "figs", "internal_test")
    assert set(paths) == {"roc", "confusion", "reliability"}
    for path in paths.values():
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size[0] > 300


def test_binary_and_absent_class(tmp_path):
    classes = ["tumour", "infection", "never_seen"]
    y, p = _probs(40, 2, 1)
    p = np.column_stack([p * 0.95, np.full(40, 0.05)])
    labels = [classes[i] for i in y]
    m = classification_metrics(labels, p, classes, n_boot=20)
    paths = write_evaluation_plots(m, labels, p, classes, tmp_path, "ext")
    assert all(path.endswith(".png") for path in paths.values())
