"""The three pipelines trained and run on CUDA give the CPU's answers (make test-gpu).

For each task: a few phantoms, the quick recipe trained on CUDA by our own training
command, then one test case analysed with those models on CUDA and on the CPU in this
process. Same answer means probabilities within 1e-3, label maps with Dice >= 0.99 and
CAMs with Pearson r >= 0.99. Timings go to var/bench/gpu_suite.json for the record.
Needs an NVIDIA GPU: on a machine without one every test fails at the first fixture.
OSTEOLENS_GPU_SUITE_DEVICE=cpu runs the same checks CPU against CPU, to check the suite
itself on a machine without a GPU (it proves nothing about CUDA).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from inference_worker import devices
from inference_worker.manifest import read_manifest
from inference_worker.models import registry
from inference_worker.pipelines import pipeline

REPO = Path(__file__).resolve().parents[2]
SIZES = {"sacral-ct": 8, "bone-xray": 16, "spine-xray": 16}
CLINICAL = {"age": 58, "sex": "F"}
SUMMARY: dict[str, dict] = {}
ACCELERATOR = os.environ.get("OSTEOLENS_GPU_SUITE_DEVICE", "cuda")


def _command(args: list[str], device: str) -> float:
    started = time.perf_counter()
    env = dict(os.environ, OSTEOLENS_DEVICE=device)
    done = subprocess.run(
        [sys.executable, "-m", "inference_worker", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return time.perf_counter() - started


@pytest.fixture(scope="session")
def cuda() -> torch.device:
    if ACCELERATOR == "cpu":
        return torch.device("cpu")
    assert torch.cuda.is_available(), "make test-gpu needs an NVIDIA GPU and a CUDA build of torch"
    return torch.device("cuda:0")


@pytest.fixture(scope="session", params=sorted(SIZES))
def trained(request, cuda, tmp_path_factory):
    task = request.param
    root = tmp_path_factory.mktemp(task)
    cohort, models = root / "cohort", root / "models"
    splits = "train=0.5,validation=0.25,test=0.25"
    _command(
        ["phantoms", task, "--n", str(SIZES[task]), "--seed", "7", "--out", str(cohort), "--splits", splits],
        "cpu",
    )
    train = ["train", task, "--data", str(cohort), "--out", str(models), "--quick", "--seed", "1"]
    seconds = _command(train, ACCELERATOR)
    SUMMARY.setdefault(task, {})[f"train_quick_{ACCELERATOR}_s"] = round(seconds, 1)
    return task, cohort, models


@contextlib.contextmanager
def _on(device: torch.device, task: str):
    """Every model loads on ``device``; the sacral tiny models' poor masks skip the domain
    checks so that classification and both CAMs run."""
    registry.clear_cache()
    saved_device = devices.device
    devices.device = lambda: device
    patched = None
    if task == "sacral-ct":
        from inference_worker.sacral import domain

        patched = (domain, domain.segmentation_checks)
        domain.segmentation_checks = lambda volumes, confidence: []
    try:
        yield
    finally:
        devices.device = saved_device
        if patched:
            patched[0].segmentation_checks = patched[1]
        registry.clear_cache()


def _analyse(task: str, case: list[Path], models: Path, out: Path, device: torch.device) -> dict:
    with _on(device, task):
        module = pipeline(task)
        module.analyze(
            [str(p) for p in case], clinical=CLINICAL, reader=None, out_dir=str(out), models_dir=str(models)
        )
        started = time.perf_counter()  # the second run is warm: models loaded, kernels chosen
        result = module.analyze(
            [str(p) for p in case], clinical=CLINICAL, reader=None, out_dir=str(out), models_dir=str(models)
        )
        SUMMARY.setdefault(task, {})[
            f"analysis_warm_{'accelerator' if out.name == 'accelerator' else 'cpu'}_s"
        ] = round(time.perf_counter() - started, 3)
    return result


def _probabilities(result: dict) -> dict[str, float]:
    found = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "probabilities" and isinstance(inner, dict):
                    found.update({f"{path}/{cls}": float(p) for cls, p in inner.items()})
                else:
                    walk(inner, f"{path}/{key}")
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(inner, f"{path}/{i}")

    walk(result.get("opinions"), "opinions")
    return found


def _array(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    if name.endswith(".npy"):
        return np.load(path).astype(np.float32)
    import nibabel as nib

    return np.asarray(nib.load(path).dataobj, dtype=np.float32)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    inter = sum(((a == v) & (b == v)).sum() for v in np.unique(a[a > 0]))
    total = (a > 0).sum() + (b > 0).sum()
    return 1.0 if total == 0 else float(2 * inter / total)


def test_models_were_trained_on_cuda(trained):
    task, _, models = trained
    cards = [json.loads(p.read_text()) for p in models.glob(f"{task}/*/*/card.json")]
    assert cards
    assert {c["trained_on"]["device"].split(":")[0] for c in cards} == {ACCELERATOR}


def test_cuda_gives_the_cpu_answer(trained, cuda, tmp_path):
    task, cohort, models = trained
    row = next(r for r in read_manifest(cohort / "manifest.csv") if r.split == "test")
    case = row.files()
    on_gpu = _analyse(task, case, models, tmp_path / "accelerator", cuda)
    on_cpu = _analyse(task, case, models, tmp_path / "cpu", torch.device("cpu"))
    assert on_gpu["out_of_domain"] == on_cpu["out_of_domain"]
    want, got = _probabilities(on_cpu), _probabilities(on_gpu)
    assert want and set(want) == set(got)
    assert max(abs(got[k] - want[k]) for k in want) <= 1e-3
    compared = 0
    for key, name in on_cpu["artefacts"].items():
        if not isinstance(name, str) or not name.endswith((".npy", ".nii.gz")):
            continue
        a, b = _array(tmp_path / "accelerator", on_gpu["artefacts"][key]), _array(tmp_path / "cpu", name)
        if "cam" in key:
            if b.std() > 0:
                assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= 0.99, key
        else:
            assert _dice(a, b) >= 0.99, key
        compared += 1
    assert compared, "no array artefact to compare"
    SUMMARY[task]["artefacts_compared"] = compared


def teardown_module(module):
    out = REPO / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    info = {"torch": torch.__version__, "cuda": torch.version.cuda}
    if torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name(0)
    (out / "gpu_suite.json").write_text(json.dumps({"machine": info, "tasks": SUMMARY}, indent=2))
