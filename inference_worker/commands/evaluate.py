"""``python -m inference_worker evaluate TASK --data ... --models DIR --split test --out DIR``."""

from __future__ import annotations

import json

from inference_worker.pipelines import pipeline, tasks


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate trained models on a manifest split")
    parser.add_argument("task", choices=tasks())
    parser.add_argument("--data", required=True, help="manifest.csv, or the folder holding it")
    parser.add_argument("--models", default=None, help="models folder (default: $MODELS_DIR)")
    parser.add_argument("--split", default="test", choices=("validation", "test", "external"))
    parser.add_argument("--out", required=True, help="folder for metrics.json and plots")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated readers")
    parser.set_defaults(run=run)


def run(args) -> int:
    result = pipeline(args.task).evaluate(args)
    print(json.dumps(result, indent=2))
    return 0
