"""Evaluation report shared by the radiograph tasks: metrics, plots and DeLong tests.

For every model: n, AUC with DeLong CI, F1, accuracy, confusion matrix, calibration
error (``evaluation.metrics.binary_metrics``), ROC / confusion / reliability plots, and
as in seed 003's Table 2 the DeLong test of each model against the ensemble.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inference_worker.evaluation.metrics import binary_metrics
from inference_worker.evaluation.stats import delong_test


def model_report(y: np.ndarray, p: np.ndarray, classes, out_dir: Path, name: str) -> dict:
    metrics = binary_metrics(y, p, classes=classes)
    try:
        from inference_worker.evaluation.plots import write_evaluation_plots

        labels = [classes[int(v)] for v in y]
        probs = np.column_stack([1 - p, p])
        plots = write_evaluation_plots(metrics, labels, probs, classes, out_dir, name)
        metrics["plots"] = {k: str(Path(v).relative_to(out_dir)) for k, v in plots.items()}
    except ImportError:  # the plots module is optional in a slim worker
        metrics["plots"] = {}
    return metrics


def delong_against(y: np.ndarray, scores: dict[str, np.ndarray], reference: str) -> dict:
    """DeLong test of each model's AUC against ``reference`` (the ensemble)."""
    out = {}
    for name, p in scores.items():
        if name == reference:
            continue
        if not 0 < y.sum() < len(y):
            out[name] = None
            continue
        test = delong_test(y, scores[reference], p)
        out[name] = {k: float(v) for k, v in test._asdict().items()}
    return out


def write_report(report: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "evaluation.json"
    path.write_text(json.dumps(report, indent=1, default=float))
    return path
