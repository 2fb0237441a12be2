"""``python -m inference_worker train TASK --data MANIFEST_OR_DIR --out MODELS_DIR``."""

from __future__ import annotations

import json

from inference_worker.pipelines import pipeline, tasks


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a task's models from a cohort manifest")
    parser.add_argument("task", choices=tasks())
    parser.add_argument("--data", required=True, help="manifest.csv, or the folder holding it")
    parser.add_argument("--out", default=None, help="models folder (default: $MODELS_DIR)")
    parser.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    parser.add_argument("--quick", action="store_true", help="tiny configuration for tests and smoke runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--segmenter-from",
        default=None,
        metavar="MODELS_DIR",
        help=(
            "sacral-ct: reuse the segmenter (and its fine tumour stage) trained under MODELS_DIR, "
            "train the classifiers only"
        ),
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    result = pipeline(args.task).train(args)
    print(json.dumps(result, indent=2))
    return 0
