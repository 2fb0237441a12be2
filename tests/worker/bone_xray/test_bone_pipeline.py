"""bone-xray end to end on tiny models: training artefacts, the result contract, the real tibia."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from inference_worker.bone_xray.pipeline import analyze, load_models
from inference_worker.manifest import read_manifest
from inference_worker.models.registry import sha256_file

TIBIA = "radiograph_nof_tibia/RG3_J2KR.dcm"
TIBIA_BOX = [740, 980, 980, 1220]  # x0, y0, x1, y1 around the fibroma in the distal metaphysis


def test_training_saves_every_model_with_a_card(bone_models):
    out, cards = bone_models
    names = [c["name"] for c in cards]
    assert names == ["efficientnet-b3", "efficientnet-b4", "vit", "swin", "ensemble", "domain"]
    for card in cards[:4]:
        config = card["config"]
        assert config["size"] == 32 and config["std"] > 0 and card["synthetic_training"]
        assert config["training"]["momentum"] == 0.9
        weights = out / "bone-xray" / card["name"] / card["version"] / "weights.pt"
        assert sha256_file(weights) == card["sha256"]
    assert cards[4]["config"]["features"][:4] == ["efficientnet-b3", "efficientnet-b4", "vit", "swin"]


def test_stacker_trained_on_out_of_fold_scores(bone_models):
    out, _ = bone_models
    state = load_models(out)["ensemble"].state
    n_train = state["stack_x"].shape[0]
    assert state["stack_x"].shape[1] == 4 + 6 and len(state["stack_y"]) == n_train
    assert np.all((state["stack_x"][:, :4] >= 0) & (state["stack_x"][:, :4] <= 1))


def _phantom(bone_cohort):
    row = next(r for r in read_manifest(bone_cohort) if r.split == "test")
    return row


def test_result_contract_on_a_phantom(bone_cohort, bone_models, tmp_path):
    row = _phantom(bone_cohort)
    clinical = {"age": row.clinical["age"], "sex": row.clinical["sex"], "lesion_box": list(row.lesion_box)}
    stages = []
    result = analyze(
        [row.images[0]],
        clinical=clinical,
        out_dir=tmp_path,
        models=load_models(bone_models[0]),
        progress=lambda s, f: stages.append((s, f)),
    )
    for key in (
        "pipeline",
        "models",
        "out_of_domain",
        "reasons",
        "opinions",
        "location",
        "artefacts",
        "timings",
        "warnings",
        "synthetic_training",
        "disclaimer",
    ):
        assert key in result
    json.dumps(result)
    assert result["pipeline"] == "bone-xray" and result["synthetic_training"] is True
    assert [o["model"] for o in result["opinions"]] == [
        "efficientnet-b3",
        "efficientnet-b4",
        "vit",
        "swin",
        "ensemble",
    ]
    for o in result["opinions"]:
        assert set(o["probabilities"]) == {"tumour", "infection"}
        assert abs(sum(o["probabilities"].values()) - 1) < 1e-4 and o["embedding"]
    assert result["location"] == {"box": list(row.lesion_box)}
    assert any("site_group" in w for w in result["warnings"])  # site missing -> imputed, and said so
    for name, rel in result["artefacts"].items():
        assert (tmp_path / rel).is_file(), name
    assert len([k for k in result["artefacts"] if k.endswith("_array")]) == 8  # 4 models x 2 CAMs
    assert stages[-1] == ("done", 1.0)


def test_real_tibia_end_to_end_bone_white_and_heat_maps_aligned(real_data, bone_models, tmp_path):
    result = analyze(
        [real_data / TIBIA],
        clinical={"age": 14, "sex": "M", "lesion_box": TIBIA_BOX},
        out_dir=tmp_path,
        models=load_models(bone_models[0]),
    )
    # Phantom-trained models on a real film: flagged by the statistics, opinions still given.
    assert result["opinions"] and result["artefacts"]
    x0, y0, x1, y1 = result["geometry"]["box"]
    assert x0 <= 740 and y0 <= 980 and x1 >= 980 and y1 >= 1220
    for model in ("efficientnet-b3", "swin"):
        for method in ("gradcam", "scorecam"):
            heat = np.load(tmp_path / result["artefacts"][f"{model}_{method}_array"])
            assert heat.shape == (1760, 1760)
            outside = heat.copy()
            outside[y0:y1, x0:x1] = 0
            assert not outside.any()  # all heat lies inside the crop, in original pixels
            key = np.asarray(Image.open(tmp_path / result["artefacts"][f"{model}_{method}"])).astype(float)
            assert key.shape == (1760, 1760, 3)
            # Away from the crop the key image is the radiograph: bone white, soft tissue dark.
            assert key[380:420, 800:840].mean() > key[380:420, 620:660].mean() + 80


def test_ct_slice_is_refused(real_data, bone_models, tmp_path):
    first = sorted((real_data / "ct_dicom_series_j2k").iterdir())[0]
    result = analyze([first], out_dir=tmp_path, models=load_models(bone_models[0]))
    assert (
        result["out_of_domain"] is True and result["opinions"] == [] and "modality CT" in result["reasons"][0]
    )


def test_evaluate_writes_metrics_plots_delong_and_learners(bone_cohort, bone_models, tmp_path):
    from inference_worker.bone_xray.evaluate import evaluate_split

    report = evaluate_split(bone_cohort, models_dir=bone_models[0], split="test", out=tmp_path)
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert set(saved["metrics"]) == {"efficientnet-b3", "efficientnet-b4", "vit", "swin", "ensemble"}
    m = saved["metrics"]["ensemble"]
    for key in ("n", "auc_macro", "auc_ci", "f1_macro", "accuracy", "confusion_matrix", "calibration_error"):
        assert key in m
    assert set(report["delong_vs_ensemble"]) == {"efficientnet-b3", "efficientnet-b4", "vit", "swin"}
    assert {"random_forest", "logistic_regression", "gbdt", "adaboost", "knn", "decision_tree"} <= set(
        saved["learners"]
    )
    assert (tmp_path / m["plots"]["roc"]).is_file()


def test_shared_cli_analyze_dispatches_to_bone_xray(bone_cohort, bone_models, tmp_path, capsys):
    from inference_worker.__main__ import main

    row = _phantom(bone_cohort)
    code = main(
        [
            "analyze",
            "bone-xray",
            str(row.images[0]),
            "--models",
            str(bone_models[0]),
            "--out",
            str(tmp_path),
            "--quiet",
            "--clinical",
            json.dumps({"age": 30, "sex": "F", "site_group": "axial"}),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pipeline"] == "bone-xray" and len(result["opinions"]) == 5
