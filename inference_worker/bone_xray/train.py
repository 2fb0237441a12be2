"""Train seed 003's four imaging models, their out-of-fold scores and the ensemble."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from inference_worker.bone_xray import clinical as clin
from inference_worker.bone_xray.stacking import fit_learner, fold_indices
from inference_worker.models import registry
from inference_worker.radiograph.data import labels, load_views, manifest_path, task_rows
from inference_worker.radiograph.domain import fit_domain
from inference_worker.radiograph.models import model_config, save_imaging_model, score_and_embed
from inference_worker.radiograph.networks import build_classifier
from inference_worker.radiograph.recipes import for_architecture
from inference_worker.radiograph.training import train_classifier

log = logging.getLogger(__name__)
TASK = "bone-xray"
IMAGING = ("efficientnet-b3", "efficientnet-b4", "vit", "swin")
ENSEMBLE = "ensemble"
DOMAIN = "domain"


def _fit_one(architecture, recipe, x_tr, y_tr, x_val, y_val, seed):
    recipe = for_architecture(recipe, architecture)
    network = build_classifier(architecture, size=recipe["size"], params=recipe["params"])
    return train_classifier(
        network, x_tr, y_tr, x_val, y_val, recipe, seed=seed, log=lambda m: log.info("%s %s", architecture, m)
    )


def train_all(data, *, out, recipe: dict, seed: int = 0, architectures=IMAGING, progress=None) -> list[dict]:
    """Train everything for bone-xray from a manifest; return the saved model cards."""
    rows = task_rows(data, TASK)
    train_rows = [r for r in rows if r.split == "train"]
    val_rows = [r for r in rows if r.split == "validation"]
    if not train_rows or not val_rows:
        raise ValueError("bone-xray training needs train and validation cases in the manifest")
    size = recipe["size"]
    x_tr, feats_tr = load_views(train_rows, 1, size, use_box=True, use_clahe=False)
    x_val, _ = load_views(val_rows, 1, size, use_box=True, use_clahe=False)
    y_tr, y_val = labels(train_rows, TASK), labels(val_rows, TASK)
    mean, std = float(x_tr.mean()), float(x_tr.std())
    xn_tr, xn_val = (x_tr - mean) / std, (x_val - mean) / std
    synthetic = all(r.synthetic for r in rows)
    split_sizes = {"train": len(train_rows), "validation": len(val_rows)}
    manifest = manifest_path(data)
    folds = fold_indices(y_tr, recipe["folds"], seed)
    oof = np.zeros((len(train_rows), len(architectures)))
    cards = []
    steps = len(architectures) * (len(folds) + 1)
    done = 0
    for a, arch in enumerate(architectures):
        # Step 1 of the two-step cross-validation: out-of-fold scores for the stacker.
        for k, (fit_idx, held_idx) in enumerate(folds):
            net, _ = _fit_one(arch, recipe, xn_tr[fit_idx], y_tr[fit_idx], xn_val, y_val, seed + 100 * k + a)
            oof[held_idx, a], _ = score_and_embed(net, xn_tr[held_idx])
            done += 1
            if progress:
                progress(f"{arch} fold {k + 1}", done / steps)
        net, info = _fit_one(arch, recipe, xn_tr, y_tr, xn_val, y_val, seed + a)
        val_p, _ = score_and_embed(net, xn_val)
        config = model_config(for_architecture(recipe, arch), mean=mean, std=std)
        from sklearn.metrics import roc_auc_score

        metrics = {
            "validation_auc": float(roc_auc_score(y_val, val_p)) if 0 < y_val.sum() < len(y_val) else None,
            "best_epoch": info["best_epoch"],
            "train_seconds": info["seconds"],
        }
        path = save_imaging_model(
            task=TASK,
            name=arch,
            network=net,
            architecture=arch,
            config=config,
            seed=seed,
            split_sizes=split_sizes,
            metrics=metrics,
            synthetic=synthetic,
            manifest=manifest,
            root=out,
            history=info["history"],
        )
        cards.append(_card(path))
        done += 1
        if progress:
            progress(f"{arch} final", done / steps)
    # Step 2: the learner on out-of-fold scores + clinical features.
    imputation = clin.fit_imputation([r.clinical for r in train_rows])
    x_clin = np.array([clin.features(r.clinical, imputation)[0] for r in train_rows])
    x_stack = np.hstack([oof, x_clin])
    stacker, tuning = fit_learner("random_forest", x_stack, y_tr, seed)
    path = registry.save_model(
        task=TASK,
        name=ENSEMBLE,
        state={
            "stacker": stacker,
            "imputation": imputation,
            "imaging": list(architectures),
            "stack_x": x_stack,
            "stack_y": y_tr,
        },
        architecture="random_forest",
        config={
            "imaging": list(architectures),
            "features": [*architectures, *clin.NAMES],
            "folds": len(folds),
            "imputation": imputation,
        },
        seed=seed,
        split_sizes=split_sizes,
        metrics={"cv_auc": tuning["cv_auc"], "params": tuning["params"]},
        synthetic_training=synthetic,
        data_manifest=manifest,
        root=out,
    )
    cards.append(_card(path))
    path = registry.save_model(
        task=TASK,
        name=DOMAIN,
        state={"reference": fit_domain(feats_tr)},
        architecture="mahalanobis",
        config={"features": "radiograph.domain.image_features"},
        seed=seed,
        split_sizes=split_sizes,
        metrics={},
        synthetic_training=synthetic,
        data_manifest=manifest,
        root=out,
    )
    cards.append(_card(path))
    return cards


def _card(path: Path) -> dict:
    import json

    return json.loads((Path(path) / registry.CARD).read_text())
