"""Fine tumour stage alone: train it on seed A, score coarse vs cascade per held-out case.

    OMP_NUM_THREADS=1 .venv/bin/python tests/bench/sacral_fine_sweep.py \\
        --train var/cohorts/seedA --coarse var/sweep/coarse_full.json \\
        --test var/cohorts/seedB --test var/cohorts/seedC --steps 3000 --out var/sweep/fine.json

The coarse segmenter is the one ``sacral_segmenter_sweep.py`` saved (its JSON for the
config, the .pt beside it for the weights), so one coarse model serves every fine
configuration. Each case is segmented once by the coarse stage and refined by the fine
stage (``fine_stage.refine``, what ``segment`` does), so the two Dice columns differ by
the fine stage alone. Scored on the seed-A validation split and every ``--test`` cohort,
per case with the diagnosis and whether the tumour is blastic.
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
from inference_worker.sacral import fine_stage, train_fine
from inference_worker.sacral import segmentation as seg_mod
from inference_worker.sacral import train as train_mod
from inference_worker.sacral.data import cases_from_manifest
from inference_worker.sacral.preprocess import STRUCTURES
from tests.bench._report import write_report


def score(coarse_net, coarse_cfg, fine_net, fine_cfg, cases) -> dict:
    rows = []
    for case in cases:
        hu, ref, affine = case.load()
        t0 = time.perf_counter()
        seg = seg_mod.segment(coarse_net, hu, affine, coarse_cfg, "cpu")
        t1 = time.perf_counter()
        refined, _ = fine_stage.refine(
            fine_net,
            fine_cfg,
            hu,
            affine,
            seg["coarse_labels"],
            seg["coarse_affine"],
            seg["labels"],
            "cpu",
        )
        t2 = time.perf_counter()
        row = {
            "case_id": case.case_id,
            "diagnosis": case.diagnosis,
            "blastic": bool(case.lesion.get("look", {}).get("blastic")),
            "coarse_s": round(t1 - t0, 2),
            "fine_s": round(t2 - t1, 2),
        }
        for name, labels in (("coarse", seg["labels"]), ("cascade", refined)):
            d = dice_per_structure(labels, ref, STRUCTURES)
            row[name] = {k: round(float(v), 4) for k, v in d.items()}
        rows.append(row)
    out = {"n": len(rows)}
    for name in ("coarse", "cascade"):
        out[name] = {k: round(float(np.mean([r[name][k] for r in rows])), 4) for k in STRUCTURES}
        out[name]["tumour_median"] = round(float(np.median([r[name]["tumour"] for r in rows])), 4)
        out[name]["tumour_below_0.5"] = sum(r[name]["tumour"] < 0.5 for r in rows)
        for key, group in (("blastic", True), ("not_blastic", False)):
            vals = [r[name]["tumour"] for r in rows if r["blastic"] is group]
            out[name][f"tumour_{key}"] = round(float(np.mean(vals)), 4) if vals else None
        by_dx = {}
        for r in rows:
            by_dx.setdefault(r["diagnosis"], []).append(r[name]["tumour"])
        out[name]["tumour_by_diagnosis"] = {k: round(float(np.mean(v)), 4) for k, v in sorted(by_dx.items())}
    out["fine_s_mean"] = round(float(np.mean([r["fine_s"] for r in rows])), 3)
    out["coarse_s_mean"] = round(float(np.mean([r["coarse_s"] for r in rows])), 3)
    out["per_case"] = rows
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True, help="seed A cohort (train + validation)")
    parser.add_argument(
        "--coarse", required=True, help="JSON written by sacral_segmenter_sweep.py (.pt beside it)"
    )
    parser.add_argument(
        "--test", action="append", default=[], help="held-out cohort (test split); repeatable"
    )
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--margin", type=float, default=fine_stage.DEFAULT_CONFIG["margin_mm"])
    parser.add_argument("--box", choices=("tumour", "sacrum"), default="tumour")
    parser.add_argument("--oversample-blastic", type=int, default=1)
    parser.add_argument("--flip", action="store_true", help="left-right test-time flip (scoring only)")
    parser.add_argument("--channels", default="8,16,32,64")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", help="skip training: fine weights saved by an earlier run")
    parser.add_argument("--cache", default="var/sweep/cache")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    coarse_cfg = json.loads(Path(args.coarse).read_text())["config"]
    coarse_net = seg_mod.build_segmenter(coarse_cfg)
    coarse_net.load_state_dict(torch.load(Path(args.coarse).with_suffix(".pt")))
    coarse_net.eval()
    channels = [int(v) for v in args.channels.split(",")]
    config = {
        **fine_stage.DEFAULT_CONFIG,
        "channels": channels,
        "strides": [2] * (len(channels) - 1),
        "roi": [args.patch] * 3,
        "spacing": [args.spacing] * 3,
        "margin_mm": args.margin,
        "box": args.box,
        "oversample_blastic": args.oversample_blastic,
        "steps": args.steps,
        "batch": train_mod.SEG_BATCH,
        "lr": args.lr,
    }
    cases = cases_from_manifest(args.train)
    val_cases = [c for c in cases if c.split == "validation"]
    seconds = {}
    if args.weights:
        fine_net = fine_stage.build_fine_segmenter(config)
        fine_net.load_state_dict(torch.load(args.weights))
        fine_net.eval()
        fine_val = None
    else:
        cache = (
            Path(args.cache)
            / f"fine_seedA_{args.spacing:g}mm_p{args.patch}_m{args.margin:g}_{args.box}_v2.pt"
        )
        t0 = time.time()
        if cache.is_file():
            train, val = torch.load(cache, weights_only=False)
        else:
            train = train_fine.prepare_fine([c for c in cases if c.split == "train"], config, args.seed)
            val = train_fine.prepare_fine(val_cases, config, args.seed + 1)
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save((train, val), cache)
        seconds["prepare"] = round(time.time() - t0)
        train = train_fine.oversampled(train, args.oversample_blastic)
        t0 = time.time()
        fine_net, metrics = train_mod.train_segmenter(
            train, val, config, args.steps, args.seed, "cpu", lambda m: print(m, flush=True)
        )
        seconds["train"] = round(time.time() - t0)
        fine_val = metrics["validation"]
    config["flip"] = args.flip  # inference only: training never reads it
    report = {"config": config, "coarse": args.coarse, "validation_fine_grid": fine_val, "seconds": seconds}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(fine_net.state_dict(), out.with_suffix(".pt"))
    for name, cohort in [("seedA_validation", val_cases)] + [
        (Path(t).name, [c for c in cases_from_manifest(t) if c.split == "test"]) for t in args.test
    ]:
        t0 = time.time()
        report[name] = score(coarse_net, coarse_cfg, fine_net, config, cohort)
        seconds[f"score_{name}"] = round(time.time() - t0)
        summary = {k: v for k, v in report[name].items() if k != "per_case"}
        print(name, json.dumps(summary), flush=True)
        write_report(report, out, echo=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
