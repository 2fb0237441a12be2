"""Evaluate the bone-xray models on one manifest split (seed 003's Table 2 layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference_worker.bone_xray import clinical as clin
from inference_worker.bone_xray.pipeline import CLASSES, load_models
from inference_worker.bone_xray.stacking import fit_learner, learners
from inference_worker.bone_xray.train import ENSEMBLE, TASK
from inference_worker.radiograph.data import labels, load_views, task_rows
from inference_worker.radiograph.evaluation import delong_against, model_report, write_report
from inference_worker.radiograph.models import card_summary, prepare, score_and_embed


def split_scores(
    data, models: dict, split: str
) -> tuple[list, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Rows, labels, {model: p} and the stacker's input matrix for one split."""
    rows = task_rows(data, TASK, (split,))
    if not rows:
        raise ValueError(f"no bone-xray cases in split {split!r}")
    y = labels(rows, TASK)
    scores = {}
    size = None
    for name, loaded in models["imaging"].items():
        config = loaded.card["config"]
        if config["size"] != size:
            size = config["size"]
            x, _ = load_views(rows, 1, size, use_box=True, use_clahe=False)
        scores[name], _ = score_and_embed(loaded.network, prepare(x, config))
    state = models["ensemble"].state
    x_clin = np.array([clin.features(r.clinical, state["imputation"])[0] for r in rows])
    stack = np.hstack([np.column_stack([scores[n] for n in state["imaging"]]), x_clin])
    scores[ENSEMBLE] = state["stacker"].predict_proba(stack)[:, 1]
    return rows, y, scores, stack


def compare_learners(models: dict, stack: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Each classical learner refitted on the stored out-of-fold training data, scored on this split."""
    from sklearn.metrics import roc_auc_score

    state = models["ensemble"].state
    out = {}
    for name in learners(seed):
        model, tuning = fit_learner(name, state["stack_x"], state["stack_y"], seed)
        p = model.predict_proba(stack)[:, 1]
        out[name] = {"auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None, **tuning}
    return out


def evaluate_split(data, *, models_dir=None, split="test", out, seed=0) -> dict:
    models = load_models(models_dir)
    rows, y, scores, stack = split_scores(data, models, split)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "task": TASK,
        "split": split,
        "n": len(rows),
        "classes": list(CLASSES),
        "models": [card_summary(m.card) for m in (*models["imaging"].values(), models["ensemble"])],
        "metrics": {name: model_report(y, p, CLASSES, out_dir, name) for name, p in scores.items()},
        "delong_vs_ensemble": delong_against(y, scores, ENSEMBLE),
        "learners": compare_learners(models, stack, y, seed),
    }
    report["json"] = str(write_report(report, out_dir))
    return report
