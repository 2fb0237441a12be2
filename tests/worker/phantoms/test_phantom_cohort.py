"""Cohort writing: manifest round trip, splits, CLI, byte-identical reruns."""

import hashlib

import nibabel as nib
import numpy as np
import pytest

from inference_worker.__main__ import main
from inference_worker.manifest import read_manifest
from inference_worker.phantoms.cohort import class_plan, generate_cohort, split_plan


def _digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def sacral_cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("sacral")
    return generate_cohort("sacral-ct", 3, 5, out, {"train": 2, "external": 1}, workers=1)


def test_sacral_manifest_round_trip(sacral_cohort):
    rows = read_manifest(sacral_cohort)
    assert len(rows) == 3
    assert sorted(r.split for r in rows) == ["external", "train", "train"]
    for r in rows:
        assert r.task == "sacral-ct" and r.synthetic and r.confirmation == "synthetic"
        assert r.images[0].is_dir() and len(list(r.images[0].glob("*.dcm"))) > 30
        assert r.centre == ("Centre B" if r.split == "external" else "Centre A")
        assert r.clinical["age"] is not None and r.clinical["site_group"] == "axial"
        labels = nib.load(r.labels)
        assert nib.aff2axcodes(labels.affine) == ("R", "A", "S")
        assert 1 in np.unique(np.asarray(labels.dataobj))


def test_rerun_is_byte_identical(sacral_cohort, tmp_path):
    again = generate_cohort("sacral-ct", 3, 5, tmp_path, {"train": 2, "external": 1}, workers=1)
    assert _digest(again.parent) == _digest(sacral_cohort.parent)


def test_radiograph_cohorts_via_cli(tmp_path, capsys):
    for task in ("bone-xray", "spine-xray"):
        out = tmp_path / task
        assert main(["phantoms", task, "--n", "2", "--seed", "3", "--out", str(out), "--workers", "1"]) == 0
        rows = read_manifest(out / "manifest.csv")
        assert len(rows) == 2
        assert all(r.lesion_box is not None and r.labels.suffix == ".png" for r in rows)
        if task == "spine-xray":
            assert all(len(r.images) == 2 for r in rows)
    assert "phantom cases" in capsys.readouterr().out


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["phantoms", "sacral-ct", "--n", "2", "--out", str(tmp_path), "--splits", "train=1,bogus=1"])
    assert exc.value.code != 0
    assert "bogus" in capsys.readouterr().err
    assert (
        main(["phantoms", "bone-xray", "--n", "2", "--out", str(tmp_path), "--hybrid-fraction", "0.5"]) != 0
    )


def test_split_and_class_plans():
    plan = split_plan(10, {"train": 0.7, "validation": 0.1, "test": 0.2}, 0)
    assert sorted(plan).count("train") == 7 and plan.count("test") == 2
    classes = class_plan("sacral-ct", 12, 0)
    assert all(classes.count(c) == 2 for c in set(classes))
    with pytest.raises(ValueError):
        split_plan(4, {"training": 1.0}, 0)
