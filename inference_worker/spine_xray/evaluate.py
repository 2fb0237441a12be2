"""Evaluate the spine-xray view models, merge and ensemble on one manifest split."""

from __future__ import annotations

from pathlib import Path

from inference_worker.radiograph.data import labels, load_views, task_rows
from inference_worker.radiograph.evaluation import delong_against, model_report, write_report
from inference_worker.radiograph.models import card_summary, prepare, score_and_embed
from inference_worker.spine_xray.pipeline import CLASSES, combine, load_models
from inference_worker.spine_xray.train import TASK, _select


def evaluate_split(data, *, models_dir=None, split="test", out, seed=0) -> dict:
    models = load_models(models_dir)
    rows = task_rows(data, TASK, (split,))
    if not rows:
        raise ValueError(f"no spine-xray cases in split {split!r}")
    y = labels(rows, TASK)
    scores, inputs = {}, {}
    for name, loaded in models["imaging"].items():
        config = loaded.card["config"]
        key = (config["size"], config["lesion_box"], config["clahe"])
        if key not in inputs:
            inputs[key], _ = load_views(rows, 2, key[0], use_box=key[1], use_clahe=key[2])
        x = inputs[key]
        scores[name], _ = score_and_embed(loaded.network, prepare(_select(x, config["view_names"]), config))
    combined = combine({k: v for k, v in scores.items()})
    scores.update(combined)
    out_dir = Path(out)
    report = {
        "task": TASK,
        "split": split,
        "n": len(rows),
        "classes": list(CLASSES),
        "models": [card_summary(m.card) for m in models["imaging"].values()],
        "metrics": {name: model_report(y, p, CLASSES, out_dir, name) for name, p in scores.items()},
        "delong_vs_ensemble": delong_against(y, scores, "ensemble"),
    }
    report["json"] = str(write_report(report, out_dir))
    return report
