"""Accuracy of the sacral CT models on held-out phantoms from an unseen seed.

    .venv/bin/python tests/bench/bench_sacral_accuracy.py [--out var/bench/sacral_accuracy.json]

Reproduces the measurement behind docs/evaluation/sacral_ct.md with the real commands:
``phantoms sacral-ct`` for a training cohort (seed A: train + validation) and a test
cohort (seed B: test only), ``train sacral-ct`` on seed A, then ``evaluate sacral-ct``
on seed B. Phantom cohorts are deterministic in their seed, so existing ones under
--work are reused; training always runs (its wall time is part of the result) unless
--models points at models trained before. Figures are compared with issue 4's "Must
show" thresholds. The defaults are the run recorded there (seeds 101/202, training
seed 0, 60 test cases), with the 300-case training cohort the classifiers now need
(docs: "Classifier robustness"; 150 before). Training takes about an hour on 2 shared CPU cores; there, set
OMP_NUM_THREADS=1 (two torch threads fighting over the cores cost far more than they gain).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.bench._report import write_report  # noqa: E402

# Issue 4, "Must show", on held-out phantoms from a seed never used in training.
THRESHOLDS = {
    "dice_tumour": 0.85,
    "dice_left_hip": 0.90,
    "dice_right_hip": 0.90,
    "six_class_auc_macro": 0.90,
    "malignancy_auc": 0.90,
}


def run(args: list[str], log: Path) -> float:
    """One ``python -m inference_worker`` command; returns its wall time in seconds."""
    start = time.perf_counter()
    with log.open("w") as fh:
        subprocess.run(
            [sys.executable, "-m", "inference_worker", *args],
            cwd=REPO,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return round(time.perf_counter() - start, 1)


def cohort(folder: Path, n: int, seed: int, splits: str, log: Path, workers: int = 1) -> float | None:
    if (folder / "manifest.csv").is_file():
        return None  # deterministic in the seed: the existing one is the same cohort
    return run(
        [
            "phantoms",
            "sacral-ct",
            "--n",
            str(n),
            "--seed",
            str(seed),
            "--out",
            str(folder),
            "--splits",
            splits,
            "--workers",
            str(workers),
        ],
        log,
    )


def figures(metrics: dict) -> dict:
    dice = metrics["segmentation"]["dice"]
    out = {
        "dice_tumour": dice["tumour"],
        "dice_left_hip": dice["left_hip"],
        "dice_right_hip": dice["right_hip"],
        "dice_sacrum": dice["sacrum"],
        "dice_median": metrics["segmentation"].get("dice_median"),
        # The same predictions had the largest tumour component been kept (the seed paper's rule).
        "dice_tumour_largest_component": metrics["segmentation"].get("tumour_dice_largest_component"),
        "six_class_image_only_auc_macro": metrics["six_class_image_only"]["auc_macro"],
        "six_class_image_only_auc_ci": metrics["six_class_image_only"]["auc_ci"],
        "six_class_auc_macro": metrics["six_class_fusion"]["auc_macro"],
        "six_class_auc_ci": metrics["six_class_fusion"]["auc_ci"],
        "malignancy_auc": metrics["malignancy"]["auc_macro"],
        "malignancy_auc_ci": metrics["malignancy"]["auc_ci"],
        "malignancy_with_reader_auc": metrics["malignancy_with_reader"]["auc_macro"],
        "malignancy_with_reader_auc_ci": metrics["malignancy_with_reader"]["auc_ci"],
        "ablation_auc_macro": {k: v["auc_macro"] for k, v in metrics["ablation"].items()},
        "missed_tumours": len(metrics["missed_tumours"]),
    }
    ablation = out["ablation_auc_macro"]
    out["meets"] = {k: out[k] is not None and out[k] >= v for k, v in THRESHOLDS.items()}
    out["meets"]["fusion_beats_image_only"] = ablation["fusion"] > ablation["image_only"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "var" / "bench" / "sacral_accuracy.json"))
    parser.add_argument("--work", default=str(REPO / "var" / "bench" / "sacral_accuracy"))
    parser.add_argument("--seed-train", type=int, default=101, help="seed A: train and validation")
    parser.add_argument("--seed-test", type=int, default=202, help="seed B: held-out test")
    parser.add_argument("--n-train", type=int, default=300, help="seed A cases (80%% train, 20%% validation)")
    parser.add_argument("--n-test", type=int, default=60)
    parser.add_argument("--models", default=None, help="evaluate these models instead of training")
    parser.add_argument("--seed", type=int, default=0, help="training seed (weights, patches, readers)")
    parser.add_argument("--workers", type=int, default=1, help="phantom generation processes")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny training: checks this script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.seed_train == args.seed_test:
        parser.error("the test seed must differ from the training seed")

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seed_a, seed_b = work / f"seed{args.seed_train}", work / f"seed{args.seed_test}"
    timings = {
        "phantoms_train_s": cohort(
            seed_a,
            args.n_train,
            args.seed_train,
            "train=0.8,validation=0.2",
            work / "phantoms_a.log",
            args.workers,
        ),
        "phantoms_test_s": cohort(
            seed_b, args.n_test, args.seed_test, "test=1", work / "phantoms_b.log", args.workers
        ),
    }
    models = Path(args.models) if args.models else work / "models"
    if not args.models:
        subprocess.run(["rm", "-rf", str(models)], check=True)
        train = ["train", "sacral-ct", "--data", str(seed_a), "--out", str(models), "--seed", str(args.seed)]
        timings["train_s"] = run(train + (["--quick"] if args.quick else []), work / "train.log")
    evaluation = work / "evaluation"
    timings["evaluate_s"] = run(
        [
            "evaluate",
            "sacral-ct",
            "--data",
            str(seed_b),
            "--models",
            str(models),
            "--split",
            "test",
            "--out",
            str(evaluation),
        ],
        work / "evaluate.log",
    )
    metrics = json.loads((evaluation / "metrics.json").read_text())
    report = {
        "what": "sacral CT models trained on phantom seed A, evaluated on held-out phantoms of seed B",
        "synthetic": True,
        "quick_training": args.quick,
        "seeds": {"train": args.seed_train, "test": args.seed_test, "training": args.seed},
        "cases": {"seed_a": args.n_train, "test": metrics["n"]},
        "thresholds": THRESHOLDS,
        "figures": figures(metrics),
        "timings": timings,
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "metrics_json": str(evaluation / "metrics.json"),
    }
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
