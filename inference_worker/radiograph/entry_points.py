"""Entry points of a radiograph pipeline for the generic train/evaluate/analyze commands.

Both radiograph pipelines (bone-xray, spine-xray) plug into inference_worker.pipelines the
same way; only the package and the recipe's class balancing differ. Imports stay lazy
because torch is slow to import.
"""

from __future__ import annotations

import importlib
import os
from types import SimpleNamespace


def entry_points(task: str, package: str, *, balance: str | None = None) -> SimpleNamespace:
    def _recipe(args):
        from inference_worker.radiograph.recipes import recipe

        name = (
            "tiny" if getattr(args, "quick", False) else os.environ.get("OSTEOLENS_RADIOGRAPH_RECIPE", "demo")
        )
        options = {"balance": balance} if balance else {}
        return recipe(name, task, epochs=getattr(args, "epochs", None), **options)

    def train(args) -> dict:
        from inference_worker.models.registry import models_dir

        train_all = importlib.import_module(f"{package}.train").train_all
        cards = train_all(args.data, out=args.out or str(models_dir()), recipe=_recipe(args), seed=args.seed)
        return {"task": task, "saved": [f"{c['task']}/{c['name']}/{c['version']}" for c in cards]}

    def evaluate(args) -> dict:
        evaluate_split = importlib.import_module(f"{package}.evaluate").evaluate_split
        return evaluate_split(
            args.data, models_dir=args.models, split=args.split, out=args.out, seed=args.seed
        )

    def analyze(paths, *, clinical=None, reader=None, out_dir, progress=None, models_dir=None) -> dict:
        pipeline = importlib.import_module(f"{package}.pipeline")
        return pipeline.analyze(
            list(paths),
            clinical=clinical,
            reader=reader,
            out_dir=out_dir,
            progress=progress,
            models=pipeline.load_models(models_dir),
        )

    return SimpleNamespace(train=train, evaluate=evaluate, analyze=analyze)
