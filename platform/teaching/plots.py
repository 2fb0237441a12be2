"""PNG figures for the dashboards and the reveal, drawn with matplotlib's object API.

Figure() without pyplot keeps no global state, so concurrent requests cannot draw
into each other's figures.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

ACCENT = "#1f6feb"
READER = "#b42318"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _empty(message: str) -> bytes:
    fig = Figure(figsize=(4.5, 3.2))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#5d6778", wrap=True)
    return _png(fig)


def roc_png(points: dict | None, *, positive: str) -> bytes:
    if points is None:
        return _empty("Not enough reads yet:\nthe ROC needs cases of both\nclasses with a model opinion.")
    fig = Figure(figsize=(4.5, 4.2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls=":", color="#98a2b3", lw=1)
    ax.plot(
        points["fpr"],
        points["tpr"],
        color=ACCENT,
        lw=2,
        label=f"model, AUC {points['auc']:.2f} ({points['auc_low']:.2f}-{points['auc_high']:.2f})",
    )
    if points["model_fpr"] is not None and points["model_tpr"] is not None:
        ax.plot(points["model_fpr"], points["model_tpr"], "o", color=ACCENT, ms=7, label="model at 0.5")
    if points["reader_fpr"] is not None and points["reader_tpr"] is not None:
        ax.plot(points["reader_fpr"], points["reader_tpr"], "*", color=READER, ms=16, label="you")
    ax.set(
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        xlabel="1 - specificity",
        ylabel="sensitivity",
        title=f"{positive}: model ROC, your operating point (n={points['n']})",
    )
    ax.title.set_fontsize(9)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_aspect("equal")
    return _png(fig)


def learning_png(rows: list[dict]) -> bytes:
    if not rows:
        return _empty("No committed reads yet.")
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    n = [r["n"] for r in rows]
    ax.plot(n, [r["cumulative_accuracy"] for r in rows], color=ACCENT, lw=2, label="cumulative")
    ax.plot(n, [r["rolling_accuracy"] for r in rows], color=READER, lw=1, alpha=0.8, label="last 10 reads")
    ax.scatter(
        n, [r["correct"] for r in rows], s=8, color="#667085", alpha=0.6, label="each read (1 = right)"
    )
    ax.set(ylim=(-0.05, 1.05), xlabel="reads, in order", ylabel="accuracy", title="Learning curve")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def study_png(groups: list[dict]) -> bytes:
    usable = [
        g for g in groups if g["auc_unaided"]["value"] is not None and g["auc_aided"]["value"] is not None
    ]
    if not usable:
        return _empty("No complete unaided/aided pairs\nwith both classes yet.")
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    x = np.arange(len(usable))
    ax.bar(x - 0.2, [g["auc_unaided"]["value"] for g in usable], 0.4, color="#98a2b3", label="unaided")
    ax.bar(x + 0.2, [g["auc_aided"]["value"] for g in usable], 0.4, color=ACCENT, label="with the model")
    ax.set_xticks(x, [g["seniority"] for g in usable])
    ax.set(ylim=(0, 1), ylabel="AUC (reader rating)", title="Assisted reading: AUC by seniority")
    ax.legend(fontsize=8)
    return _png(fig)


def overlay_png(image: np.ndarray, *, region_mask=None, reference=None, heat=None) -> bytes:
    """The key image with a heat-map, the tumour outline (green) and the reader's region (red)."""
    h, w = image.shape
    fig = Figure(figsize=(4.2, 4.2 * h / max(w, 1)))
    ax = fig.add_axes((0, 0, 1, 1))
    # The image is already windowed to 0-255; do not let imshow stretch it again.
    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    if heat is not None:
        hm = np.asarray(heat, dtype=float)
        span = hm.max() - hm.min()
        hm = (hm - hm.min()) / span if span > 0 else np.zeros_like(hm)
        ax.imshow(np.ma.masked_less(hm, 0.05), cmap="jet", alpha=0.45, interpolation="bilinear")
    if reference is not None and np.any(reference):
        ax.contour(reference.astype(float), levels=[0.5], colors=["#12b76a"], linewidths=1.5)
    if region_mask is not None and np.any(region_mask):
        ax.contour(region_mask.astype(float), levels=[0.5], colors=["#f04438"], linewidths=1.5)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
