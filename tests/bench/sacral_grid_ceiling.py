"""Ceiling a segmentation grid imposes: the TRUE label map taken to the grid and back.

    OMP_NUM_THREADS=1 .venv/bin/python tests/bench/sacral_grid_ceiling.py \\
        --data var/cohorts/seedB --split test --spacings 4,3,2,1.5 --out var/ceiling.json

Each case's true labels go to a grid of the given spacing the way training prepares them
(``prepare_labels``, nearest), become one-hot probabilities, and come back to the CT grid
through the pipeline's own path (``labels_on_grid`` -> ``resample_probabilities``). The
Dice against the truth is the best any network on that grid could score: what the grid
alone costs, before the network errs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from inference_worker.evaluation.metrics import dice_per_structure
from inference_worker.sacral.data import cases_from_manifest
from inference_worker.sacral.preprocess import N_SEG_CLASSES, STRUCTURES, affine_of, prepare_labels
from inference_worker.sacral.segmentation import labels_on_grid
from tests.bench._report import write_report


def round_trip(labels: np.ndarray, affine: np.ndarray, spacing: float) -> np.ndarray:
    grid = prepare_labels(labels, affine, (spacing,) * 3)
    coarse = grid[0].numpy().round().astype(np.int64)
    probs = torch.nn.functional.one_hot(torch.as_tensor(coarse), N_SEG_CLASSES).permute(3, 0, 1, 2).float()
    return labels_on_grid(probs, coarse.astype(np.uint8), affine_of(grid), labels.shape, affine)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--spacings", default="4,3,2,1.5")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    spacings = [float(s) for s in args.spacings.split(",")]
    cases = [c for c in cases_from_manifest(args.data) if c.split == args.split]
    if args.limit:
        cases = cases[: args.limit]
    rows = []
    for case in cases:
        hu, labels, affine = case.load()
        row = {"case_id": case.case_id, "diagnosis": case.diagnosis}
        row["blastic"] = bool(case.lesion.get("look", {}).get("blastic"))
        row["tumour_ml"] = round(float((labels == 1).sum() * abs(np.linalg.det(affine[:3, :3])) / 1000), 1)
        for s in spacings:
            d = dice_per_structure(round_trip(labels, affine, s), labels, STRUCTURES)
            row[f"{s:g}mm"] = {k: round(float(v), 4) for k, v in d.items()}
        rows.append(row)
        print(row, flush=True)
    summary = {
        f"{s:g}mm": {k: round(float(np.mean([r[f"{s:g}mm"][k] for r in rows])), 4) for k in STRUCTURES}
        | {"tumour_min": round(float(np.min([r[f"{s:g}mm"]["tumour"] for r in rows])), 4)}
        for s in spacings
    }
    write_report(
        {"data": args.data, "split": args.split, "n": len(rows), "mean": summary, "per_case": rows},
        args.out,
        echo=False,
    )
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
