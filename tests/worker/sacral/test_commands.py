"""The generic commands dispatch to the sacral pipeline through the pipeline registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference_worker.__main__ import main
from inference_worker.pipelines import pipeline, tasks


def test_sacral_ct_is_registered():
    assert "sacral-ct" in tasks()
    module = pipeline("sacral-ct")
    assert all(callable(getattr(module, name)) for name in ("train", "evaluate", "analyze"))
    with pytest.raises(ValueError, match="no pipeline"):
        pipeline("knee-mri")


def test_analyze_command_prints_the_result(tiny_models, real_data, tmp_path, capsys):
    code = main(
        [
            "analyze",
            "sacral-ct",
            str(real_data / "ct_dicom_series_j2k"),
            "--models",
            str(tiny_models[0]),
            "--out",
            str(tmp_path),
            "--clinical",
            '{"age": 50, "sex": "F"}',
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pipeline"] == "sacral-ct" and result["out_of_domain"] is True


def test_analyze_command_rejects_bad_json(tmp_path):
    with pytest.raises(SystemExit, match="not valid JSON"):
        main(["analyze", "sacral-ct", str(tmp_path), "--out", str(tmp_path), "--reader", "{oops"])


def test_training_wrote_cards_with_provenance(tiny_models, tiny_cohort):
    root, saved = tiny_models
    names = {Path(p).parent.name for p in saved}
    assert names == {
        "segmenter",
        "segmenter-fine",
        "malignancy",
        "classifier-image_only",
        "classifier-image_clinical",
        "classifier-image_location",
        "classifier-fusion",
    }
    fusion = json.loads(next(root.glob("sacral-ct/classifier-fusion/*/card.json")).read_text())
    assert fusion["synthetic_training"] is True
    assert fusion["training_data"]["sha256"] is not None
    assert fusion["split_sizes"] == {"train": 4, "validation": 4}
    assert fusion["config"]["temperature"] > 0
    assert len(fusion["config"]["tabular_stats"]["mean"]) == 9
    malignancy = json.loads(next(root.glob("sacral-ct/malignancy/*/card.json")).read_text())
    assert len(malignancy["config"]["stacker"]["coef"]) == 6


def test_evaluate_command_reports_every_model(tiny_models, tiny_cohort, tmp_path, capsys):
    code = main(
        [
            "evaluate",
            "sacral-ct",
            "--data",
            str(tiny_cohort),
            "--models",
            str(tiny_models[0]),
            "--split",
            "test",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 2
    assert set(result["segmentation"]["dice"]) == {"tumour", "left_hip", "right_hip", "sacrum"}
    per_case = result["segmentation"]["per_case"]
    assert len(per_case) == 2 and {"tumour", "tumour_largest_component"} <= set(per_case[0])
    assert result["segmentation"]["tumour_dice_largest_component"] is not None
    assert set(result["ablation"]) == {"image_only", "image_clinical", "image_location", "fusion"}
    for key in ("six_class_fusion", "malignancy", "malignancy_with_reader"):
        assert {"n", "auc_macro", "f1_macro", "accuracy", "confusion_matrix", "calibration_error"} <= set(
            result[key]
        )
    assert (tmp_path / "metrics.json").is_file()


def test_fine_stage_card_reports_coarse_and_cascade_validation(tiny_models):
    root, _ = tiny_models
    card = json.loads(next(root.glob("sacral-ct/segmenter-fine/*/card.json")).read_text())
    assert card["architecture"].startswith("monai.networks.nets.UNet")
    assert set(card["metrics"]["validation_ct_grid"]) == {"coarse", "cascade"}
    assert card["config"]["spacing"] and card["config"]["box"] in ("tumour", "sacrum")
    assert len(card["sha256"]) == 64 and card["seed"] == 0
