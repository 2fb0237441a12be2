"""Which module serves which task: the train/evaluate/analyze commands dispatch here.

Each pipeline module exposes ``train(args) -> dict``, ``evaluate(args) -> dict`` and
``analyze(paths, *, clinical, reader, out_dir, progress, models_dir) -> dict``. The
radiograph pipelines join by adding a line; modules import lazily (torch is slow).
"""

from __future__ import annotations

import importlib

PIPELINES = {
    "sacral-ct": "inference_worker.sacral.tasks",
    "bone-xray": "inference_worker.bone_xray.tasks",
    "spine-xray": "inference_worker.spine_xray.tasks",
}


def tasks() -> list[str]:
    return sorted(PIPELINES)


def pipeline(task: str):
    try:
        return importlib.import_module(PIPELINES[task])
    except KeyError:
        raise ValueError(f"no pipeline for task {task!r}; known: {', '.join(tasks())}") from None
