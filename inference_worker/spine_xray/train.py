"""Train seed 004's EfficientNet-B0 view models (CLAHE, optional class down-sampling)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from inference_worker.models import registry
from inference_worker.radiograph.data import labels, load_views, manifest_path, task_rows
from inference_worker.radiograph.domain import fit_domain
from inference_worker.radiograph.models import model_config, save_imaging_model, score_and_embed
from inference_worker.radiograph.networks import build_classifier
from inference_worker.radiograph.training import train_classifier
from inference_worker.spine_xray.views import IMAGING

log = logging.getLogger(__name__)
TASK = "spine-xray"
ARCHITECTURE = "efficientnet-b0"
DOMAIN = "domain"


def _select(x: np.ndarray, names: list[str]) -> np.ndarray:
    index = {"ap": 0, "lateral": 1}
    return x[:, [index[n] for n in names]]


def train_all(data, *, out, recipe: dict, seed: int = 0, models=tuple(IMAGING), progress=None) -> list[dict]:
    rows = task_rows(data, TASK)
    train_rows = [r for r in rows if r.split == "train"]
    val_rows = [r for r in rows if r.split == "validation"]
    if not train_rows or not val_rows:
        raise ValueError("spine-xray training needs train and validation cases in the manifest")
    size = recipe["size"]
    # Each view cropped at the abnormal vertebra: on a whole 640-row film scaled to the
    # input size a vertebra is a few pixels tall and its lysis, pedicles and endplates
    # vanish (measured: ensemble AUC 0.69 on whole views).
    x_tr, feats_tr = load_views(train_rows, 2, size, use_box=True, use_clahe=True)
    x_val, _ = load_views(val_rows, 2, size, use_box=True, use_clahe=True)
    y_tr, y_val = labels(train_rows, TASK), labels(val_rows, TASK)
    mean, std = float(x_tr.mean()), float(x_tr.std())
    synthetic = all(r.synthetic for r in rows)
    split_sizes = {"train": len(train_rows), "validation": len(val_rows)}
    cards = []
    for k, name in enumerate(models):
        names, separate = IMAGING[name]
        net = build_classifier(
            ARCHITECTURE,
            size=size,
            params=recipe["params"],
            in_channels=1 if separate else len(names),
            views=len(names) if separate else 1,
        )
        xt, xv = (_select(x_tr, names) - mean) / std, (_select(x_val, names) - mean) / std
        net, info = train_classifier(
            net, xt, y_tr, xv, y_val, recipe, seed=seed + k, log=lambda m, n=name: log.info("%s %s", n, m)
        )
        p, _ = score_and_embed(net, xv)
        config = model_config(
            recipe,
            mean=mean,
            std=std,
            views=len(names) if separate else 1,
            in_channels=1 if separate else len(names),
            use_clahe=True,
            use_box=True,
            view_names=names,
        )
        metrics = {
            "validation_auc": float(roc_auc_score(y_val, p)) if 0 < y_val.sum() < len(y_val) else None,
            "best_epoch": info["best_epoch"],
            "train_seconds": info["seconds"],
        }
        path = save_imaging_model(
            task=TASK,
            name=name,
            network=net,
            architecture=ARCHITECTURE,
            config=config,
            seed=seed,
            split_sizes=split_sizes,
            metrics=metrics,
            synthetic=synthetic,
            manifest=manifest_path(data),
            root=out,
            history=info["history"],
        )
        cards.append(json.loads((Path(path) / registry.CARD).read_text()))
        if progress:
            progress(name, (k + 1) / (len(models) + 1))
    path = registry.save_model(
        task=TASK,
        name=DOMAIN,
        state={"reference": fit_domain(feats_tr)},
        architecture="mahalanobis",
        config={"features": "radiograph.domain.image_features", "views": ["ap", "lateral"]},
        seed=seed,
        split_sizes=split_sizes,
        metrics={},
        synthetic_training=synthetic,
        data_manifest=manifest_path(data),
        root=out,
    )
    cards.append(json.loads((Path(path) / registry.CARD).read_text()))
    return cards
