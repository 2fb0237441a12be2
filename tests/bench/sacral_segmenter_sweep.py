"""Sacral segmenter alone: train one configuration on seed A, Dice on held-out seed B.

    OMP_NUM_THREADS=1 .venv/bin/python tests/bench/sacral_segmenter_sweep.py \\
        --train var/sacral_eval/seedA --test var/sacral_eval/seedB --steps 3000 --out var/sweep/x.json

Uses the functions ``train sacral-ct`` and ``evaluate sacral-ct`` use (``train_segmenter``,
``segment``, ``dice_per_structure``), without the classifiers, so configurations of the
segmenter (steps, grid, patch, width, batch) can be compared on held-out phantoms in
minutes. Held-out Dice is on the CT grid, after the component rule of ``segment``; the
seed paper's largest-component tumour Dice of the same predictions is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from inference_worker.evaluation.metrics import dice_per_structure
from inference_worker.sacral import segmentation as seg_mod
from inference_worker.sacral import train as train_mod
from inference_worker.sacral.data import cases_from_manifest
from inference_worker.sacral.preprocess import STRUCTURES, prepare_image, prepare_labels
from tests.bench._report import write_report


def seg_items(cases, spacing, cache: Path | None) -> list[dict]:
    if cache is not None and cache.is_file():
        return torch.load(cache, weights_only=False)
    items = []
    for case in cases:
        hu, labels, affine = case.load()
        items.append(
            {
                "seg_image": prepare_image(hu, affine, spacing).as_tensor(),
                "seg_labels": prepare_labels(labels, affine, spacing).as_tensor().to(torch.uint8),
            }
        )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(items, cache)
    return items


def held_out_dice(net, cases, config) -> dict:
    per_case = []
    for case in cases:
        hu, ref, affine = case.load()
        seg = seg_mod.segment(net, hu, affine, config, "cpu")
        dice = dice_per_structure(seg["labels"], ref, STRUCTURES)
        probs = seg["coarse_probabilities"]
        largest = seg_mod.keep_largest(probs.argmax(0, keepdim=True))[0].numpy().astype(np.uint8)
        labels = seg_mod.labels_on_grid(probs, largest, seg["coarse_affine"], hu.shape, affine)
        dice["tumour_largest_component"] = dice_per_structure(labels, ref, {"tumour": 1})["tumour"]
        per_case.append({"case_id": case.case_id, **{k: round(float(v), 4) for k, v in dice.items()}})
    keys = [*STRUCTURES, "tumour_largest_component"]
    return {
        "n": len(per_case),
        "mean": {k: round(float(np.mean([c[k] for c in per_case])), 4) for k in keys},
        "median": {k: round(float(np.median([c[k] for c in per_case])), 4) for k in keys},
        "tumour_below_0.05": sum(c["tumour"] < 0.05 for c in per_case),
        "per_case": per_case,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True, help="seed A cohort (train + validation)")
    parser.add_argument("--test", required=True, help="held-out cohort (test split)")
    parser.add_argument("--steps", type=int, default=train_mod.FULL["seg_steps"])
    parser.add_argument("--spacing", type=float, default=train_mod.FULL["seg_spacing"])
    parser.add_argument("--patch", type=int, default=train_mod.FULL["patch"])
    parser.add_argument("--batch", type=int, default=train_mod.SEG_BATCH)
    parser.add_argument("--channels", default="8,16,32,64")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default="var/sweep/cache", help="prepared grids, per spacing")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    spacing = (args.spacing,) * 3
    cases = cases_from_manifest(args.train)
    cache = Path(args.cache) / f"seedA_{args.spacing:g}mm"
    t0 = time.time()
    train = seg_items([c for c in cases if c.split == "train"], spacing, cache.with_suffix(".train.pt"))
    val = seg_items([c for c in cases if c.split == "validation"], spacing, cache.with_suffix(".val.pt"))
    prepare_s = time.time() - t0
    channels = [int(v) for v in args.channels.split(",")]
    config = {
        **seg_mod.DEFAULT_CONFIG,
        "channels": channels,
        "strides": [2] * (len(channels) - 1),
        "roi": [args.patch] * 3,
        "spacing": list(spacing),
        "steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
    }
    t0 = time.time()
    net, metrics = train_mod.train_segmenter(
        train, val, config, args.steps, args.seed, "cpu", lambda m: print(m, flush=True)
    )
    train_s = time.time() - t0
    test_cases = [c for c in cases_from_manifest(args.test) if c.split == "test"]
    t0 = time.time()
    held_out = held_out_dice(net, test_cases, config)
    report = {
        "config": config,
        "validation_coarse": metrics["validation"],
        "held_out": held_out,
        "seconds": {
            "prepare": round(prepare_s),
            "train": round(train_s),
            "held_out": round(time.time() - t0),
        },
    }
    out = write_report(report, args.out, echo=False)
    torch.save(net.state_dict(), out.with_suffix(".pt"))
    print(
        json.dumps(
            {k: v for k, v in report.items() if k != "held_out"}
            | {"held_out": {k: v for k, v in held_out.items() if k != "per_case"}},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
