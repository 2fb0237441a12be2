"""Tiny sacral models trained once per test session on a handful of phantoms.

The cohort is made and the models trained through the real commands (phantoms ->
manifest -> train), so the manifest path is exercised too. The models are far too
small to be accurate; tests use them to exercise the chain.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory):
    from inference_worker.__main__ import main

    out = tmp_path_factory.mktemp("cohort")
    code = main(
        [
            "phantoms",
            "sacral-ct",
            "--n",
            "10",
            "--seed",
            "11",
            "--out",
            str(out),
            "--splits",
            "train=0.4,validation=0.4,test=0.2",
            "--workers",
            "1",
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="session")
def tiny_models(tiny_cohort, tmp_path_factory):
    from inference_worker.__main__ import main

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("models")
    assert main(["train", "sacral-ct", "--data", str(tiny_cohort), "--out", str(root), "--quick"]) == 0
    return root, sorted(str(p.parent) for p in root.glob("sacral-ct/*/*/card.json"))


@pytest.fixture(scope="session")
def phantom_case():
    from inference_worker.phantoms.sacral_ct import generate_case

    return generate_case(4242, diagnosis="chordoma")
