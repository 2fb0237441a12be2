from __future__ import annotations

import pytest

from tests.integration.workers import Worker, worker_env

# The pipelines the end-to-end tests drive through real workers.
INTEGRATION_TASKS = ("sacral-ct", "bone-xray", "spine-xray")


@pytest.fixture
def celery_apps():
    from config.celery import app

    # Start from empty queues: nothing left over from an earlier run may be consumed.
    app.control.purge()
    return app


@pytest.fixture
def workers(transactional_db, settings, tmp_path, celery_apps):
    """Both real worker processes, stopped at the end of the test."""
    env = worker_env(settings.MEDIA_ROOT)
    started = {
        "gpu": Worker("inference_worker.celery_app", "gpu", env, tmp_path / "gpu-worker.log").start(),
        "default": Worker("config.celery", "default", env, tmp_path / "default-worker.log").start(),
    }
    yield started
    for worker in started.values():
        worker.stop()
    for name in ("gpu", "default"):
        log = tmp_path / f"{name}-worker.log"
        if log.exists():
            print(f"--- {name} worker log ---\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def phantom_cohorts(tmp_path_factory):
    """A few phantoms per task, made by our generator (DICOM + manifest)."""
    from inference_worker.phantoms.cohort import generate_cohort

    root = tmp_path_factory.mktemp("phantoms")
    splits = {"train": 0.5, "validation": 0.25, "test": 0.25}
    sizes = {"sacral-ct": 8, "bone-xray": 16, "spine-xray": 16}
    return {
        task: generate_cohort(task, sizes[task], seed=90 + i, out=root / task, splits=splits)
        for i, task in enumerate(INTEGRATION_TASKS)
    }


@pytest.fixture(scope="session")
def phantom_studies(phantom_cohorts):
    """One test-split study per task: the files a referring doctor would upload."""
    from inference_worker.manifest import read_manifest

    studies = {}
    for task, manifest in phantom_cohorts.items():
        row = next(r for r in read_manifest(manifest) if r.split == "test")
        files = []
        for path in row.images:
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
        studies[task] = files
    return studies


@pytest.fixture(scope="session")
def tiny_models(phantom_cohorts, tmp_path_factory):
    """Tiny models for every task, trained by our own training command; MODELS_DIR points at them."""
    import os
    import subprocess
    import sys

    from tests.integration.workers import REPO

    models = tmp_path_factory.mktemp("models")
    for task, manifest in phantom_cohorts.items():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "inference_worker",
                "train",
                task,
                "--data",
                str(manifest),
                "--out",
                str(models),
                "--quick",
                "--seed",
                "1",
            ],
            cwd=REPO,
            check=True,
            env=dict(os.environ, OMP_NUM_THREADS="2"),
        )
    previous = os.environ.get("MODELS_DIR")
    os.environ["MODELS_DIR"] = str(models)
    yield models
    if previous is None:
        os.environ.pop("MODELS_DIR", None)
    else:
        os.environ["MODELS_DIR"] = previous
