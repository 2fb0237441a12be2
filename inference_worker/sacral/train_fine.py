"""Training of the fine tumour stage (``fine_stage``) and its validation on the CT grid.

The fine network learns on crops of the fine grid around the TRUE tumour: the box the
pipeline would cut around a perfect coarse tumour, with each side moved at random
(``JITTER_MM``) so that the network sees boxes cut too wide, too narrow and off-centre,
as the coarse outline will give it. Patches are drawn inside the crop by the coarse
segmenter's own sampler (``train._random_patch``: mostly on the tumour), so the same
loss and schedule (``train.train_segmenter``) serve both stages.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from inference_worker.evaluation.metrics import dice_per_structure
from inference_worker.sacral import fine_stage
from inference_worker.sacral import segmentation as seg_mod
from inference_worker.sacral.preprocess import STRUCTURES, prepare_image, prepare_labels

# Each side of the training box moves by up to this much (mm) from the pipeline's box.
JITTER_MM = (-12.0, 16.0)
# Plans, beside train.QUICK / train.FULL (chosen by the same --quick). FULL: see
# docs/evaluation/sacral_ct.md for the runs that chose it.
QUICK = {
    "steps": 2,
    "spacing": 4.0,
    "patch": 32,
    "margin_mm": 8.0,
    "box": "sacrum",
    "flip": True,
    "oversample_blastic": 2,
}
FULL = {
    "steps": 6000,
    "spacing": 2.0,
    "patch": 48,
    "margin_mm": 20.0,
    "box": "sacrum",
    "flip": True,
    "oversample_blastic": 4,
}


def fine_crop_box(labels: np.ndarray, affine: np.ndarray, config: dict, rng=None):
    """World box (lo, hi) the fine stage would look at were the coarse labels these (the
    truth, in training); with ``rng``, each side jittered."""
    lo, hi = fine_stage.fine_box(labels, affine, config)
    if rng is not None:
        lo = lo - rng.uniform(*JITTER_MM, size=3)
        hi = hi + rng.uniform(*JITTER_MM, size=3)
    return fine_stage.at_least_window(lo, hi, config)


def fine_item(hu: np.ndarray, labels: np.ndarray, affine: np.ndarray, config: dict, rng) -> dict | None:
    """One training crop (image and labels on the fine grid), or None without a tumour."""
    tumour = labels == STRUCTURES["tumour"]
    if not tumour.any():
        return None
    lo, hi = fine_crop_box(labels, affine, config, rng)
    start, stop = fine_stage.index_box(hu.shape, affine, lo, hi)
    sub_hu, sub_affine = fine_stage.crop_volume(hu, affine, start, stop)
    sub_lab, _ = fine_stage.crop_volume(labels, affine, start, stop)
    spacing = tuple(config["spacing"])
    return {
        "seg_image": prepare_image(sub_hu, sub_affine, spacing).as_tensor(),
        "seg_labels": prepare_labels(sub_lab, sub_affine, spacing).as_tensor().to(torch.uint8),
    }


def prepare_fine(cases, config: dict, seed: int) -> list[dict]:
    """Fine-grid crops of every case with a tumour (cases are loaded again: the coarse
    items keep only the coarse grid)."""
    rng = np.random.default_rng(seed)
    items = []
    for case in cases:
        hu, labels, affine = case.load()
        item = fine_item(hu, labels, affine, config, rng)
        if item is not None:
            item["blastic"] = bool(case.lesion.get("look", {}).get("blastic"))
            items.append(item)
    return items


def oversampled(items: list[dict], repeat: int) -> list[dict]:
    """Blastic tumours listed ``repeat`` times (the sampler draws cases uniformly).

    Dense tumour inside bone is the look both stages miss (tumour Dice near 0 in the
    coarse stage) and a small minority of the cohort (3 of the 120 seed-A training
    phantoms). Only phantoms say which tumours are blastic; other cases are listed once.
    """
    return [item for item in items for _ in range(repeat if item.get("blastic") else 1)]


def cascade_dice(coarse_net, coarse_config: dict, fine_net, fine_config: dict, cases, device) -> dict:
    """Mean Dice per structure on the CT grid, coarse alone and with the fine stage
    (the same coarse predictions), over cases with a label map."""
    scores = {"coarse": {k: [] for k in STRUCTURES}, "cascade": {k: [] for k in STRUCTURES}}
    for case in cases:
        hu, ref, affine = case.load()
        seg = seg_mod.segment(coarse_net, hu, affine, coarse_config, device)
        refined, _ = fine_stage.refine(
            fine_net,
            fine_config,
            hu,
            affine,
            seg["coarse_labels"],
            seg["coarse_affine"],
            seg["labels"],
            device,
        )
        for name, labels in (("coarse", seg["labels"]), ("cascade", refined)):
            for k, v in dice_per_structure(labels, ref, STRUCTURES).items():
                scores[name][k].append(v)
    return {
        name: {k: round(float(np.mean(v)), 4) if v else None for k, v in per.items()}
        for name, per in scores.items()
    }


def fine_config(plan: dict, batch: int, lr: float = 5e-3) -> dict:
    return {
        **fine_stage.DEFAULT_CONFIG,
        "roi": [plan["patch"]] * 3,
        "spacing": [plan["spacing"]] * 3,
        "margin_mm": plan["margin_mm"],
        "box": plan["box"],
        "flip": plan["flip"],
        "oversample_blastic": plan.get("oversample_blastic", 1),
        "steps": plan["steps"],
        "batch": batch,
        "lr": lr,
    }


def train_fine_stage(
    train_cases,
    val_cases,
    coarse_net,
    coarse_config: dict,
    *,
    quick: bool,
    epochs,
    seed: int,
    device,
    progress,
):
    """Train the fine stage; returns (network, config, metrics) for the registry card.

    Metrics: Dice on the fine grid in the validation crops (around the true tumour), and
    Dice on the CT grid of the validation cases through the trained coarse segmenter,
    coarse alone and cascade: the figure that says whether the stage earns its place.
    """
    from inference_worker.sacral import train as train_mod  # train imports this module

    plan = dict(QUICK if quick else FULL)
    config = fine_config(plan, train_mod.SEG_BATCH)
    t0 = time.time()
    train = prepare_fine(train_cases, config, seed)
    val = prepare_fine(val_cases, config, seed + 1)
    if not train or not val:
        raise ValueError("the fine tumour stage needs train and validation cases with a tumour")
    train = oversampled(train, int(config.get("oversample_blastic", 1)))
    if epochs is not None:
        # --epochs means passes over the training cases, as for the coarse segmenter.
        config["steps"] = max(1, epochs * len(train) // train_mod.SEG_BATCH)
    progress(f"fine stage: {len(train)} / {len(val)} crops prepared in {time.time() - t0:.0f}s")
    net, metrics = train_mod.train_segmenter(train, val, config, config["steps"], seed, device, progress)
    metrics = {
        "validation_fine_grid": metrics["validation"],
        "validation_ct_grid": cascade_dice(coarse_net, coarse_config, net, config, val_cases, device),
        "steps": config["steps"],
    }
    return net, config, metrics
