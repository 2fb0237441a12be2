"""Phantom cohorts and tiny models made by our own commands, shared by the tests that
run the real pipelines end to end (tests/integration, tests/browser).

A pytest plugin (tests/conftest.py names it): its session fixtures are trained once per
run, whichever of those folders asks first.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.workers import REPO

# The pipelines the end-to-end tests drive through real workers.
INTEGRATION_TASKS = ("sacral-ct", "bone-xray", "spine-xray")
SPLITS = {"train": 0.5, "validation": 0.25, "test": 0.25}


def make_cohort(task: str, size: int, seed: int, out: Path) -> Path:
    """`size` phantoms of `task` (DICOM + manifest.csv) under `out`; returns the manifest."""
    from inference_worker.phantoms.cohort import generate_cohort

    return generate_cohort(task, size, seed=seed, out=out, splits=SPLITS)


def train_quick(task: str, manifest: Path, models: Path, *, epochs: int | None = None) -> None:
    """Our training command in its tiny configuration (`epochs` overrides every model's)."""
    args = [sys.executable, "-m", "inference_worker", "train", task, "--data", str(manifest)]
    args += ["--out", str(models), "--quick", "--seed", "1"]
    if epochs is not None:
        args += ["--epochs", str(epochs)]
    subprocess.run(args, cwd=REPO, check=True, env=dict(os.environ, OMP_NUM_THREADS="2"))


def studies_of_test_split(manifest: Path) -> list[list[Path]]:
    """The files of each test-split study: what a referring doctor would upload."""
    from inference_worker.manifest import read_manifest

    return [row.files() for row in read_manifest(manifest) if row.split == "test"]


@contextlib.contextmanager
def models_dir(path: Path):
    """MODELS_DIR points at `path` (for the worker processes the test starts), then back."""
    previous = os.environ.get("MODELS_DIR")
    os.environ["MODELS_DIR"] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("MODELS_DIR", None)
        else:
            os.environ["MODELS_DIR"] = previous


@pytest.fixture(scope="session")
def phantom_cohorts(tmp_path_factory):
    """A few phantoms per task, made by our generator (DICOM + manifest)."""
    root = tmp_path_factory.mktemp("phantoms")
    sizes = {"sacral-ct": 8, "bone-xray": 16, "spine-xray": 16}
    return {
        task: make_cohort(task, sizes[task], seed=90 + i, out=root / task)
        for i, task in enumerate(INTEGRATION_TASKS)
    }


@pytest.fixture(scope="session")
def phantom_studies(phantom_cohorts):
    """One test-split study per task: the files a referring doctor would upload."""
    return {task: studies_of_test_split(manifest)[0] for task, manifest in phantom_cohorts.items()}


@pytest.fixture(scope="session")
def tiny_models(phantom_cohorts, tmp_path_factory):
    """Tiny models for every task, trained by our own training command; MODELS_DIR points at them."""
    models = tmp_path_factory.mktemp("models")
    for task, manifest in phantom_cohorts.items():
        train_quick(task, manifest, models)
    with models_dir(models):
        yield models
