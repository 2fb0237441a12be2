"""Evaluation figures as PNG files: ROC curves, confusion matrix, reliability diagram.

The Agg backend is forced so workers without a display (and Celery processes) can draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

DPI = 120


def _save(fig: plt.Figure, path: str | Path) -> str:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")  # keep long axis labels inside the image
    plt.close(fig)  # figures are global state; a long-lived worker must not leak them
    return str(path)


def roc_plot(y_true: Sequence[str], probs: Any, classes: Sequence[str], path: str | Path) -> str:
    """One-vs-rest ROC curve per class (only the positive class for two classes)."""
    p = np.asarray(probs, dtype=float)
    y = np.asarray(list(y_true))
    shown = [1] if len(classes) == 2 else range(len(classes))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for c in shown:
        pos = y == classes[c]
        if pos.all() or not pos.any():
            continue  # no curve for a class with no positives (or no negatives)
        fpr, tpr, _ = roc_curve(pos, p[:, c])
        ax.plot(fpr, tpr, lw=1.8, label=f"{classes[c]} (AUC {roc_auc_score(pos, p[:, c]):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (false-positive rate)")
    ax.set(ylabel="sensitivity (true-positive rate)", title="ROC curves (one vs rest)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def confusion_plot(cm: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path) -> str:
    """Counts with row percentages; rows are the true class, columns the predicted one."""
    m = np.asarray(cm, dtype=float)
    rows = m.sum(1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    size = 2.2 + 0.8 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            colour = "white" if share[i, j] > 0.6 else "black"
            ax.text(
                j, i, f"{int(m[i, j])}\n{share[i, j]:.0%}", ha="center", va="center", color=colour, fontsize=8
            )
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=35, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set(xlabel="predicted", ylabel="true (histopathology)", title="Confusion matrix")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of true class")
    return _save(fig, path)


def reliability_plot(reliability: Sequence[Mapping[str, Any]], path: str | Path) -> str:
    """Reliability diagram from ``classification_metrics(...)["reliability"]``."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    filled = [b for b in reliability if b["count"]]
    centres = [(b["low"] + b["high"]) / 2 for b in filled]
    width = (reliability[0]["high"] - reliability[0]["low"]) * 0.9 if reliability else 0.1
    ax.bar(
        centres, [b["accuracy"] for b in filled], width=width, color="#4c72b0", alpha=0.8, label="accuracy"
    )
    ax.plot([b["confidence"] for b in filled], [b["accuracy"] for b in filled], "o", color="black", ms=4,
            label="mean confidence")  # fmt: skip
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for c, b in zip(centres, filled, strict=True):
        ax.text(c, 0.02, str(b["count"]), ha="center", fontsize=7, color="white")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence of the top class", ylabel="accuracy")
    ax.set(title="Reliability diagram (n per bin at the bottom)")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def write_evaluation_plots(
    metrics: Mapping[str, Any],
    y_true: Sequence[str],
    probs: Any,
    classes: Sequence[str],
    out_dir: str | Path,
    prefix: str,
) -> dict[str, str]:
    """All three figures into ``out_dir`` as ``{prefix}_{roc,confusion,reliability}.png``."""
    out = Path(out_dir)
    return {
        "roc": roc_plot(y_true, probs, classes, out / f"{prefix}_roc.png"),
        "confusion": confusion_plot(metrics["confusion_matrix"], classes, out / f"{prefix}_confusion.png"),
        "reliability": reliability_plot(metrics["reliability"], out / f"{prefix}_reliability.png"),
    }
