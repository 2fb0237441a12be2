"""The sacral pipeline's entry points for the generic train/evaluate/analyze commands."""

from __future__ import annotations

from pathlib import Path


def train(args) -> dict:
    from inference_worker.models.registry import models_dir
    from inference_worker.sacral.data import cases_from_manifest, manifest_path
    from inference_worker.sacral.train import train_all

    out = args.out or str(models_dir())
    cases = cases_from_manifest(args.data)
    saved = train_all(
        cases,
        out=out,
        epochs=args.epochs,
        quick=args.quick,
        seed=args.seed,
        manifest=manifest_path(args.data),
        segmenter_from=getattr(args, "segmenter_from", None),
    )
    return {"task": "sacral-ct", "saved": saved}


def evaluate(args) -> dict:
    from inference_worker.sacral.evaluate import evaluate_split

    return evaluate_split(args.data, models_dir=args.models, split=args.split, out=args.out, seed=args.seed)


def analyze(paths, *, clinical=None, reader=None, out_dir, progress=None, models_dir=None) -> dict:
    from inference_worker.sacral.models import load_sacral_models
    from inference_worker.sacral.pipeline import analyze as run

    models = load_sacral_models(Path(models_dir) if models_dir else None)
    return run(
        list(paths), clinical=clinical, reader=reader, out_dir=out_dir, progress=progress, models=models
    )
