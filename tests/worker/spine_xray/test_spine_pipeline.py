"""spine-xray: view models, merge and ensemble; one-view studies; evaluation."""

from __future__ import annotations

import json

import numpy as np

from inference_worker.manifest import read_manifest
from inference_worker.spine_xray.pipeline import analyze, combine, load_models


def _case(cohort):
    return next(r for r in read_manifest(cohort) if r.split == "test")


def test_two_view_study_gets_every_variant(spine_cohort, spine_models, tmp_path):
    row = _case(spine_cohort)
    result = analyze(row.images, out_dir=tmp_path, models=load_models(spine_models))
    json.dumps(result)
    assert result["pipeline"] == "spine-xray" and result["views"] == ["ap", "lateral"]
    names = [o["model"] for o in result["opinions"]]
    assert names == ["ap", "lateral", "concat", "chconcat", "merge", "ensemble"]
    p = {o["model"]: o["probabilities"]["metastasis"] for o in result["opinions"]}
    assert abs(p["merge"] - (p["ap"] + p["lateral"]) / 2) < 1e-4
    assert abs(p["ensemble"] - np.mean([p[k] for k in ("ap", "lateral", "concat", "chconcat")])) < 1e-4
    assert result["skipped"] == {}
    # concat explains each view through its own encoder; chconcat's one map covers both views
    for name in (
        "concat_ap",
        "concat_lateral",
        "chconcat_ap",
        "chconcat_lateral",
        "ap_ap",
        "lateral_lateral",
    ):
        for method in ("gradcam", "scorecam"):
            assert (tmp_path / result["artefacts"][f"{name}_{method}"]).is_file()
    heat = np.load(tmp_path / result["artefacts"]["ap_ap_gradcam_array"])
    assert heat.shape == (640, 512)  # the AP view's own geometry


def test_one_view_study_gets_the_models_that_need_only_that_view(spine_cohort, spine_models, tmp_path):
    row = _case(spine_cohort)
    result = analyze([row.images[1]], out_dir=tmp_path, models=load_models(spine_models))
    assert result["views"] == ["lateral"]
    assert [o["model"] for o in result["opinions"]] == ["lateral", "ensemble"]
    assert set(result["skipped"]) == {"ap", "concat", "chconcat", "merge"}
    assert "ap view" in result["skipped"]["concat"]


def test_combine_works_on_arrays_as_on_floats():
    out = combine({"ap": np.array([0.2, 0.8]), "lateral": np.array([0.4, 0.6])})
    np.testing.assert_allclose(out["merge"], [0.3, 0.7])
    assert float(combine({"ap": 0.2})["ensemble"]) == 0.2 and "merge" not in combine({"ap": 0.2})


def test_evaluate_reports_every_variant(spine_cohort, spine_models, tmp_path):
    from inference_worker.spine_xray.evaluate import evaluate_split

    report = evaluate_split(spine_cohort, models_dir=spine_models, split="test", out=tmp_path)
    assert set(report["metrics"]) == {"ap", "lateral", "concat", "chconcat", "merge", "ensemble"}
    assert "ensemble" not in report["delong_vs_ensemble"] and (tmp_path / "evaluation.json").is_file()


def test_vertebra_boxes_from_the_request_frame_each_view(spine_cohort, spine_models, tmp_path):
    from inference_worker.radiograph.data import view_boxes as manifest_boxes
    from inference_worker.radiograph.preprocess import expand_box

    row = _case(spine_cohort)
    ap_box, lateral_box = manifest_boxes(row, 2)
    models = load_models(spine_models)
    boxed = analyze(
        row.images,
        clinical={"lesion_box": ",".join(map(str, ap_box)), "lateral_box": list(lateral_box)},
        out_dir=tmp_path / "boxed",
        models=models,
        saliency=False,
    )
    assert not any("vertebra box" in w for w in boxed["warnings"])
    whole = analyze(row.images[:1], out_dir=tmp_path / "whole", models=models, saliency=False)
    assert any("no vertebra box for the ap view" in w for w in whole["warnings"])
    # The models saw the crops (their cards say they were trained on them): scores differ
    # from the whole-view ones, and the heat-maps go back into the expanded box.
    p_boxed = {o["model"]: o["probabilities"]["metastasis"] for o in boxed["opinions"]}
    p_whole = {o["model"]: o["probabilities"]["metastasis"] for o in whole["opinions"]}
    assert p_boxed["ap"] != p_whole["ap"]
    with_maps = analyze(
        [row.images[1]],
        clinical={"lateral_box": list(lateral_box)},
        out_dir=tmp_path / "maps",
        models=models,
        saliency=True,
    )
    heat = np.load(tmp_path / "maps" / with_maps["artefacts"]["lateral_gradcam_array"]).astype(float)
    x0, y0, x1, y1 = expand_box(lateral_box, heat.shape)
    outside = heat.copy()
    outside[y0:y1, x0:x1] = 0
    assert heat[y0:y1, x0:x1].max() > 0 and outside.max() == 0
