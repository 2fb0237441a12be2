"""The bone-xray pipeline's entry points for the generic train/evaluate/analyze commands."""

from __future__ import annotations

import os


def _recipe(args):
    from inference_worker.radiograph.recipes import recipe

    name = "tiny" if getattr(args, "quick", False) else os.environ.get("OSTEOLENS_RADIOGRAPH_RECIPE", "demo")
    return recipe(name, epochs=getattr(args, "epochs", None))


def train(args) -> dict:
    from inference_worker.bone_xray.train import train_all
    from inference_worker.models.registry import models_dir

    out = args.out or str(models_dir())
    cards = train_all(args.data, out=out, recipe=_recipe(args), seed=args.seed)
    return {"task": "bone-xray", "saved": [f"{c['task']}/{c['name']}/{c['version']}" for c in cards]}


def evaluate(args) -> dict:
    from inference_worker.bone_xray.evaluate import evaluate_split

    return evaluate_split(args.data, models_dir=args.models, split=args.split, out=args.out, seed=args.seed)


def analyze(paths, *, clinical=None, reader=None, out_dir, progress=None, models_dir=None) -> dict:
    from inference_worker.bone_xray.pipeline import analyze as run
    from inference_worker.bone_xray.pipeline import load_models

    return run(
        list(paths),
        clinical=clinical,
        reader=reader,
        out_dir=out_dir,
        progress=progress,
        models=load_models(models_dir),
    )
