"""Radiograph tests share two CPU cores with other work: one torch thread."""

from __future__ import annotations

import torch

torch.set_num_threads(1)

import pytest  # noqa: E402

from inference_worker.phantoms.cohort import generate_cohort  # noqa: E402
from inference_worker.radiograph.recipes import recipe  # noqa: E402


@pytest.fixture(scope="session")
def bone_cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("bone_cohort")
    return generate_cohort(
        "bone-xray", 16, seed=5, out=out, splits={"train": 0.6, "validation": 0.2, "test": 0.2}, workers=1
    )


@pytest.fixture(scope="session")
def bone_models(bone_cohort, tmp_path_factory):
    """All four imaging models + ensemble + domain reference, tiny (32 px, one epoch, two folds)."""
    from inference_worker.bone_xray.train import train_all

    out = tmp_path_factory.mktemp("bone_models")
    cards = train_all(bone_cohort, out=out, recipe=recipe("tiny"), seed=0)
    return out, cards
