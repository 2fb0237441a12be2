"""Evaluation of the whole sacral chain on one split, end to end.

Every case goes through the same steps as ``analyze``: segmentation, location from the
*predicted* hip bones, classification of the *predicted* tumour crop. A case whose
tumour is missed keeps its place with uniform probabilities, so misses cost AUC
instead of silently leaving the denominator.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inference_worker.evaluation.metrics import classification_metrics, dice_per_structure
from inference_worker.evaluation.stats import delong_test
from inference_worker.sacral import malignancy as mal_mod
from inference_worker.sacral.data import Case, cases_from_manifest
from inference_worker.sacral.features import case_features
from inference_worker.sacral.fine_stage import refine
from inference_worker.sacral.models import CLASSIFIER_VARIANTS, SacralModels, load_sacral_models
from inference_worker.sacral.pipeline import classify
from inference_worker.sacral.preprocess import STRUCTURES
from inference_worker.sacral.reader_simulation import simulate_reader
from inference_worker.sacral.segmentation import keep_largest, labels_on_grid
from inference_worker.vocabulary import SACRAL_CLASSES

N_BOOT = 300
_KEEP = (
    "n",
    "auc",
    "auc_macro",
    "auc_ci",
    "f1_macro",
    "accuracy",
    "confusion_matrix",
    "calibration_error",
    "notes",
)


def _plots(metrics, y, probs, classes, out: Path, prefix: str) -> dict:
    try:
        from inference_worker.evaluation.plots import write_evaluation_plots
    except ImportError:
        return {}
    return write_evaluation_plots(metrics, y, probs, classes, out, prefix)


def _tumour_dice_largest_component(
    seg: dict, ref: np.ndarray, affine, hu, models: SacralModels
) -> float | None:
    """Tumour Dice had the largest coarse tumour component been kept; None when that is
    the same one. With a fine stage, that component is what the fine stage refines."""
    probs = seg["coarse_probabilities"]
    largest = keep_largest(probs.argmax(0, keepdim=True))[0].numpy().astype(np.uint8)
    tumour = STRUCTURES["tumour"]
    if np.array_equal(largest == tumour, seg["coarse_labels"] == tumour):
        return None
    labels = labels_on_grid(probs, largest, seg["coarse_affine"], ref.shape, affine)
    if models.fine is not None:
        net, config = models.fine
        labels, _ = refine(
            net,
            config,
            hu,
            affine,
            largest,
            seg["coarse_affine"],
            labels,
            models.fine_segmenter.device,
        )
    return dice_per_structure(labels, ref, {"tumour": tumour})["tumour"]


def evaluate_cases(cases: list[Case], models: SacralModels, out: str | Path, seed: int = 0) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    crop = models.fusion.card["config"]["crop"]
    dices: dict[str, list[float]] = {k: [] for k in STRUCTURES}
    probs = {v: [] for v in CLASSIFIER_VARIANTS}
    p_mal, p_reader, y, y_mal, missed = [], [], [], [], []
    dice_largest, per_case = [], []
    for case in cases:
        hu, ref, affine = case.load()
        seg = models.segment(hu, affine)
        labels = seg["labels"]
        if ref is not None:
            case_dice = dice_per_structure(labels, ref, STRUCTURES)
            for k, v in case_dice.items():
                dices[k].append(v)
            largest = _tumour_dice_largest_component(seg, ref, affine, hu, models)
            dice_largest.append(case_dice["tumour"] if largest is None else largest)
            per_case.append(
                {
                    "case_id": case.case_id,
                    "diagnosis": case.diagnosis,
                    **{k: round(float(v), 4) for k, v in case_dice.items()},
                    "tumour_largest_component": round(float(dice_largest[-1]), 4),
                }
            )
        y.append(case.diagnosis)
        y_mal.append(mal_mod.CLASSES[int(case.malignant)])
        reader = simulate_reader(case.lesion, case.malignant, rng)
        if not (labels == STRUCTURES["tumour"]).any():
            missed.append(case.case_id)
            for v in CLASSIFIER_VARIANTS:
                probs[v].append(np.full(len(SACRAL_CLASSES), 1 / len(SACRAL_CLASSES)))
            p_mal.append(0.5)
            p_reader.append(0.5)
            continue
        features = case_features(hu, labels, affine, case.clinical, crop)
        for v in CLASSIFIER_VARIANTS:
            opinions, _ = classify(models, features, reader, variant=v)
            probs[v].append([opinions[0]["probabilities"][c] for c in SACRAL_CLASSES])
        p_mal.append(opinions[1]["probabilities"]["malignant"])
        p_reader.append(opinions[2]["probabilities"]["malignant"])

    result: dict = {"n": len(cases), "missed_tumours": missed}
    result["segmentation"] = {
        "n": len(dices["tumour"]),
        "dice": {k: round(float(np.mean(v)), 4) if v else None for k, v in dices.items()},
        "dice_sd": {k: round(float(np.std(v)), 4) if v else None for k, v in dices.items()},
        "dice_median": {k: round(float(np.median(v)), 4) if v else None for k, v in dices.items()},
        # The same predictions with the seed paper's rule (largest tumour component kept).
        "tumour_dice_largest_component": round(float(np.mean(dice_largest)), 4) if dice_largest else None,
        "per_case": per_case,
    }
    ablation, plots = {}, {}
    for v in CLASSIFIER_VARIANTS:
        arr = np.asarray(probs[v], dtype=float)
        # Bootstrap CIs cost thousands of AUCs: spend them where comparisons are reported.
        m = classification_metrics(
            y, arr, SACRAL_CLASSES, n_boot=N_BOOT if v in ("fusion", "image_only") else 0
        )
        result[f"six_class_{v}"] = {k: m.get(k) for k in _KEEP}
        ablation[v] = {"auc_macro": m["auc_macro"], "f1_macro": m["f1_macro"], "accuracy": m["accuracy"]}
        plots.update(_plots(m, y, arr, SACRAL_CLASSES, out, f"six_class_{v}"))
    result["ablation"] = ablation
    # DeLong is a two-curve test of one binary outcome: run it one-vs-rest per class.
    fusion, image = np.asarray(probs["fusion"]), np.asarray(probs["image_only"])
    delong = {}
    for i, c in enumerate(SACRAL_CLASSES):
        truth = np.array([label == c for label in y], dtype=int)
        if 0 < truth.sum() < len(truth):
            test = delong_test(truth, fusion[:, i], image[:, i])
            delong[c] = {
                "auc_fusion": round(test.auc_a, 4),
                "auc_image_only": round(test.auc_b, 4),
                "p": round(test.p, 4),
            }
    result["delong_fusion_vs_image_only"] = delong
    for name, p in (("malignancy", p_mal), ("malignancy_with_reader", p_reader)):
        arr = np.column_stack([1 - np.asarray(p), np.asarray(p)])
        m = classification_metrics(y_mal, arr, mal_mod.CLASSES, n_boot=N_BOOT)
        result[name] = {k: m.get(k) for k in _KEEP}
        plots.update(_plots(m, y_mal, arr, mal_mod.CLASSES, out, name))
    if len(set(y_mal)) == 2:
        truth = np.array([v == "malignant" for v in y_mal], dtype=int)
        test = delong_test(truth, np.asarray(p_reader), np.asarray(p_mal))
        result["delong_reader_ensemble_vs_model"] = {"p": round(test.p, 4)}
    result["readers"] = "simulated from phantom ground truth with noise (see sacral/reader_simulation.py)"
    result["plots"] = {k: str(Path(v).name) for k, v in plots.items()}
    result["models"] = models.cards(CLASSIFIER_VARIANTS)
    (out / "metrics.json").write_text(json.dumps(result, indent=2, default=float))
    return result


def evaluate_split(data, *, models_dir=None, split="test", out: str, seed: int = 0) -> dict:
    cases = [c for c in cases_from_manifest(data) if c.split == split]
    if not cases:
        raise ValueError(f"no {split} cases in {data}")
    models = load_sacral_models(models_dir, variants=CLASSIFIER_VARIANTS)
    result = evaluate_cases(cases, models, out, seed)
    result["split"] = split
    return result
