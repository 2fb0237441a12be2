"""analyze(): the result contract, artefacts, DICOM SEG validity, out-of-domain refusal."""

from __future__ import annotations

import json
import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest
from phantom_dicom import write_ct_series

from inference_worker.sacral import domain, pipeline
from inference_worker.sacral.fine_stage import FINE_MISSING_WARNING
from inference_worker.sacral.models import load_sacral_models

CONTRACT = {
    "pipeline",
    "models",
    "out_of_domain",
    "reasons",
    "opinions",
    "location",
    "segmentation",
    "artefacts",
    "timings",
    "warnings",
    "synthetic_training",
    "disclaimer",
}
READER = {"suspicion": 4, "signs": {"cortical_destruction": True, "soft_tissue_mass": True}}


@pytest.fixture(scope="module")
def models(tiny_models):
    return load_sacral_models(tiny_models[0])


@pytest.fixture(scope="module")
def dicom_result(models, phantom_case, tmp_path_factory):
    """A full analysis of a phantom DICOM series. The tiny model's masks are poor, so the
    segmentation-based domain checks are bypassed to reach classification and saliency."""
    folder = write_ct_series(phantom_case.hu, phantom_case.affine, tmp_path_factory.mktemp("dicom") / "ct")
    out = tmp_path_factory.mktemp("out")
    stages = []
    original = domain.segmentation_checks
    domain.segmentation_checks = lambda volumes, confidence: []
    try:
        result = pipeline.analyze(
            [str(folder)],
            clinical={"age": 61, "sex": "M"},
            reader=READER,
            out_dir=str(out),
            progress=lambda s, f: stages.append((s, f)),
            models=models,
        )
    finally:
        domain.segmentation_checks = original
    return result, out, stages


def test_result_has_the_contract_keys_and_is_json(dicom_result):
    result, _, _ = dicom_result
    assert CONTRACT <= set(result)
    json.dumps(result)
    assert result["pipeline"] == "sacral-ct"
    assert result["disclaimer"] == "Research use only; not for clinical use"
    assert result["synthetic_training"] is True
    assert {m["name"] for m in result["models"]} == {
        "segmenter",
        "segmenter-fine",
        "classifier-fusion",
        "malignancy",
    }
    assert all(len(m["sha256"]) == 64 for m in result["models"])
    assert FINE_MISSING_WARNING not in result["warnings"]


def test_opinions_are_probabilities_with_embeddings(dicom_result):
    result, _, _ = dicom_result
    kinds = [o["kind"] for o in result["opinions"]]
    assert kinds == ["six_class", "malignancy", "malignancy_with_reader"]
    for o in result["opinions"]:
        assert abs(sum(o["probabilities"].values()) - 1) < 1e-3
        assert o["top_class"] == max(o["probabilities"], key=o["probabilities"].get)
        assert len(o["embedding"]) == 64 and all(isinstance(v, float) for v in o["embedding"])
    assert set(result["opinions"][0]["probabilities"]) == {
        "metastasis",
        "chondrosarcoma",
        "osteosarcoma",
        "chordoma",
        "neurogenic_tumour",
        "giant_cell_tumour",
    }


def test_progress_stages_in_order(dicom_result):
    _, _, stages = dicom_result
    names = [s for s, _ in stages]
    assert names == ["loading", "segmenting", "classifying", "saliency", "done"]
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_artefacts_exist_on_the_ct_grid(dicom_result, phantom_case):
    result, out, _ = dicom_result
    arts = result["artefacts"]
    for key in (
        "labels",
        "gradcam",
        "scorecam",
        "key_image",
        "key_image_gradcam",
        "key_image_scorecam",
        "seg_dicom",
    ):
        assert (out / arts[key]).is_file(), key
    labels = nib.load(out / arts["labels"])
    assert labels.shape == phantom_case.hu.shape
    np.testing.assert_allclose(labels.affine, phantom_case.affine, atol=1e-3)
    for cam in ("gradcam", "scorecam"):
        heat = np.asarray(nib.load(out / arts[cam]).dataobj)
        assert heat.shape == phantom_case.hu.shape
        assert 0 <= heat.min() and heat.max() <= 1 + 1e-6


def test_location_is_in_the_hip_frame(dicom_result):
    location = dicom_result[0]["location"]
    assert location is None or location["side"] in ("left", "right", "midline")
    if location:
        assert len(location["centroid"]) == 3


def test_dicom_seg_passes_dciodvfy(dicom_result):
    assert shutil.which("dciodvfy"), "dciodvfy missing: `make test` installs Debian's dicom3tools"
    result, out, _ = dicom_result
    report = subprocess.run(
        ["dciodvfy", str(out / result["artefacts"]["seg_dicom"])], capture_output=True, text=True, timeout=60
    )
    errors = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]
    assert errors == [], errors


def test_real_upper_abdomen_is_out_of_domain(models, real_data, tmp_path):
    result = pipeline.analyze([str(real_data / "ct_dicom_series_j2k")], out_dir=str(tmp_path), models=models)
    assert result["out_of_domain"] is True
    assert result["opinions"] == []
    assert any("cranio-caudally" in r for r in result["reasons"])
    # Model-independent reasons (the tiny test models may "find" bones anywhere).
    assert any("contrast" in r for r in result["reasons"])
    assert any("not the pelvis" in r for r in result["reasons"])
    json.dumps(result)


def test_bad_reader_is_refused(models, tmp_path):
    with pytest.raises(ValueError, match="suspicion"):
        pipeline.analyze(["/nonexistent"], reader={"suspicion": 9}, out_dir=str(tmp_path), models=models)
