"""Radiograph tests share two CPU cores with other work: one torch thread."""

from __future__ import annotations

import torch

torch.set_num_threads(1)

import pytest  # noqa: E402

from inference_worker.phantoms.cohort import generate_cohort  # noqa: E402
from inference_worker.radiograph.recipes import recipe  # noqa: E402


@pytest.fixture(scope="session")
def spine_cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("spine_cohort")
    return generate_cohort(
        "spine-xray", 12, seed=6, out=out, splits={"train": 0.5, "validation": 0.25, "test": 0.25}, workers=1
    )


@pytest.fixture(scope="session")
def spine_models(spine_cohort, tmp_path_factory):
    from inference_worker.spine_xray.train import train_all

    out = tmp_path_factory.mktemp("spine_models")
    train_all(spine_cohort, out=out, recipe=recipe("tiny", balance="downsample"), seed=0)
    return out
