"""Sacral classifiers alone: train configurations against a fixed trained segmenter.

    OMP_NUM_THREADS=1 .venv/bin/python tests/bench/sacral_classifier_sweep.py \\
        --train var/sacral_eval/seedA --test var/sacral_eval/seedB var/sacral_eval/seedC \\
        --models var/sacral_eval/models --cache var/sweep/cache \\
        --members 3 --mask-views 6 --select-on-predicted --out var/sweep/x.json

The segmenter (``--models``, from ``train sacral-ct``) is run once per case and its
masks are cached with every classifier input (true-mask, perturbed-mask and
predicted-mask crops), so one configuration of the six-class variants and the DenseNet
trains and scores in minutes instead of the ~15 of a full ``train``. Training and
scoring use ``train_six_class`` / ``train_malignancy`` and the held-out cases' crops of
the *predicted* mask, as ``evaluate sacral-ct`` does (a missed tumour scores uniform
probabilities); AUCs come with bootstrap 95% CIs (300 resamples, as ``evaluate``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from inference_worker.evaluation.metrics import classification_metrics  # noqa: E402
from inference_worker.models import registry  # noqa: E402
from inference_worker.sacral import classifier as cls_mod  # noqa: E402
from inference_worker.sacral import malignancy as mal_mod  # noqa: E402
from inference_worker.sacral import segmentation as seg_mod  # noqa: E402
from inference_worker.sacral import train as train_mod  # noqa: E402
from inference_worker.sacral.calibration import softmax  # noqa: E402
from inference_worker.sacral.data import TASK, cases_from_manifest  # noqa: E402
from inference_worker.sacral.ensemble import MeanProbability  # noqa: E402
from inference_worker.sacral.features import case_features, tabular_raw  # noqa: E402
from inference_worker.sacral.reader_simulation import simulate_reader  # noqa: E402
from inference_worker.sacral.robust import mirrored, perturbed_features, predicted_features  # noqa: E402
from inference_worker.sacral.tabular import standardise  # noqa: E402
from inference_worker.vocabulary import SACRAL_CLASSES  # noqa: E402

MAX_VIEWS = 8  # perturbed views cached per training case; a configuration uses the first k
N_BOOT = 300
_FEATURE_KEYS = ("crop", "volume_ml", "clinical_raw", "location_raw")


def _slim(features: dict | None) -> dict | None:
    return None if features is None else {k: features[k] for k in _FEATURE_KEYS}


def cached_items(data: str, splits, segmenter, crop: int, cache: Path, seed: int = 0) -> list[dict]:
    """Per case: labels, true-mask features and (train) perturbed views, cached once; and
    the predicted-mask features, cached per segmenter (its weights' sha256)."""
    stem = f"{Path(data).resolve().name}-{'-'.join(splits)}"
    base_path = cache / f"{stem}.pt"
    cases = [c for c in cases_from_manifest(data) if c.split in splits]
    cache.mkdir(parents=True, exist_ok=True)
    if base_path.is_file():
        items = torch.load(base_path, weights_only=False)
    else:
        rng = np.random.default_rng(seed + 7)
        items = []
        for case in cases:
            hu, labels, affine = case.load()
            item = {
                "case_id": case.case_id,
                "split": case.split,
                "y": SACRAL_CLASSES.index(case.diagnosis),
                "malignant": int(case.malignant),
                # Only the malignancy stacker reads it; the DenseNet-alone figures ignore it.
                "reader": simulate_reader(case.lesion, case.malignant, rng),
                **_slim(case_features(hu, labels, affine, case.clinical, crop)),
            }
            if case.split == "train":
                views = perturbed_features(hu, labels, affine, case.clinical, crop, MAX_VIEWS, rng)
                item["perturbed"] = [_slim(f) for f in views]
            items.append(item)
        torch.save(items, base_path)
    if segmenter is None:
        return items
    pred_path = cache / f"{stem}-predicted-{segmenter.card['sha256'][:12]}.pt"
    if pred_path.is_file():
        predicted = torch.load(pred_path, weights_only=False)
    else:
        seg_cfg = segmenter.card["config"]
        predicted = []
        for case in cases:
            hu, _, affine = case.load()
            net, device = segmenter.network, segmenter.device
            predicted.append(_slim(predicted_features(net, seg_cfg, device, hu, affine, case.clinical, crop)))
        torch.save(predicted, pred_path)
    return [{**item, "predicted": p} for item, p in zip(items, predicted, strict=True)]


def configure(items: list[dict], args) -> list[dict]:
    """Training/validation items as ``train_six_class`` expects them for this configuration."""
    out = []
    for item in items:
        it = {k: v for k, v in item.items() if k not in ("perturbed", "predicted")}
        if item["split"] == "train":
            views = list(item["perturbed"][: args.mask_views])
            if args.train_on_predicted and item["predicted"] is not None:
                views.append(item["predicted"])
            if args.mirror:
                views += [mirrored(f) for f in [it, *views]]
            if views:
                it["views"] = views
        elif args.select_on_predicted:
            it["predicted"] = item["predicted"]
        out.append(it)
    return out


def _probs(net, cfg, feats: list[dict | None], n_classes: int) -> np.ndarray:
    """Probabilities per case; uniform where the tumour was missed (as ``evaluate``)."""
    out = np.full((len(feats), n_classes), 1.0 / n_classes)
    have = [i for i, f in enumerate(feats) if f is not None]
    if not have:
        return out
    xs = torch.as_tensor(np.stack([feats[i]["crop"] for i in have]))
    columns = cfg.get("tabular_columns") or []
    tabs = None
    if columns:
        rows = np.array([tabular_raw(feats[i], columns) for i in have])
        tabs = torch.as_tensor(standardise(rows, cfg["tabular_stats"]))
    logits = train_mod.predict_logits(net, xs, tabs, "cpu")
    out[have] = softmax(logits, cfg["temperature"])
    return out


def _auc(y_names, probs, classes, n_boot) -> dict:
    m = classification_metrics(y_names, probs, classes, n_boot=n_boot)
    if m["auc_macro"] is None:  # one class only (tiny smoke cohorts)
        return {"auc": None, "ci": None}
    return {
        "auc": round(m["auc_macro"], 4),
        "ci": [round(v, 4) for v in m["auc_ci"]] if m.get("auc_ci") else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", nargs="+", required=True, help="one or more cohorts (train + validation)")
    ap.add_argument("--test", nargs="+", required=True)
    ap.add_argument("--models", help="folder with a trained sacral segmenter (none: only cache inputs)")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--members", type=int, default=1)
    ap.add_argument("--mal-members", type=int, default=1)
    ap.add_argument("--mask-views", type=int, default=0)
    ap.add_argument("--train-on-predicted", action="store_true")
    ap.add_argument("--mirror", action="store_true", help="add left-right mirrored views")
    ap.add_argument("--select-on-predicted", action="store_true")
    ap.add_argument("--cls-epochs", type=int, default=20)
    ap.add_argument("--mal-epochs", type=int, default=60)
    ap.add_argument("--weight-decay", type=float, default=1e-3)
    ap.add_argument("--tabular-dropout", type=float, default=0.0)
    ap.add_argument("--variants", nargs="*", default=list(cls_mod.VARIANTS))
    ap.add_argument("--no-malignancy", action="store_true")
    ap.add_argument("--score-models", help="also score the classifiers saved under this models folder")
    ap.add_argument("--true-mask", action="store_true", help="also score held-out true-mask crops")
    args = ap.parse_args()
    torch.set_num_threads(1)

    crop = cls_mod.DEFAULT_CONFIG["crop"]
    segmenter = None
    if args.models:
        segmenter = registry.load_model(
            TASK,
            "segmenter",
            build=lambda c: seg_mod.build_segmenter(c["config"]),
            root=args.models,
            device="cpu",
        )
    cache = Path(args.cache)
    t0 = time.time()
    cohort = [
        item
        for d in args.train
        for item in cached_items(d, ("train", "validation"), segmenter, crop, cache, args.seed)
    ]
    tests = {
        Path(d).resolve().name: cached_items(d, ("test",), segmenter, crop, cache, args.seed)
        for d in args.test
    }
    print(f"inputs ready in {time.time() - t0:.0f}s", flush=True)
    if segmenter is None:
        return
    items = configure(cohort, args)
    train = [i for i in items if i["split"] == "train"]
    val = [i for i in items if i["split"] == "validation"]

    report = {"config": vars(args), "results": {}, "times_s": {}}
    trained = {}
    if args.score_models:
        # Saved models scored on the same cached inputs: checks this harness against
        # ``evaluate`` (same figures expected) and gives the baseline of a sweep.
        from inference_worker.sacral.models import CLASSIFIER_VARIANTS, load_sacral_models

        saved = load_sacral_models(args.score_models, variants=CLASSIFIER_VARIANTS)
        for v, m in saved.classifiers.items():
            trained[f"saved_{v}"] = (m.network, m.card["config"])
        trained["saved_malignancy"] = (saved.malignancy.network, saved.malignancy.card["config"])
    base = {
        **cls_mod.DEFAULT_CONFIG,
        "crop": crop,
        "members": args.members,
        "weight_decay": args.weight_decay,
        "tabular_dropout": args.tabular_dropout,
    }
    for variant in args.variants:
        t0 = time.time()
        net, cfg, metrics = train_mod.train_six_class(
            train, val, variant, base, args.cls_epochs, args.seed, "cpu"
        )
        trained[variant] = (net, cfg)
        report["times_s"][variant] = round(time.time() - t0, 1)
        print(
            f"{variant}: validation {metrics['validation']['auc_macro']} ({time.time() - t0:.0f}s)",
            flush=True,
        )
    if not args.no_malignancy:
        t0 = time.time()
        mal_cfg = {**mal_mod.DEFAULT_CONFIG, "crop": crop, "members": args.mal_members}
        mal_cfg["weight_decay"] = args.weight_decay
        net, cfg, metrics = train_mod.train_malignancy(train, val, mal_cfg, args.mal_epochs, args.seed, "cpu")
        trained["malignancy"] = (net, cfg)
        report["times_s"]["malignancy"] = round(time.time() - t0, 1)
        print(
            f"malignancy: validation {metrics['validation']['auc_macro']} ({time.time() - t0:.0f}s)",
            flush=True,
        )

    for name, test in tests.items():
        res = {}
        views = {"predicted": [i["predicted"] for i in test]}
        if args.true_mask:
            views["true"] = [{k: i[k] for k in _FEATURE_KEYS} for i in test]
        y6 = [SACRAL_CLASSES[i["y"]] for i in test]
        ym = [mal_mod.CLASSES[i["malignant"]] for i in test]
        for view, feats in views.items():
            for model, (net, cfg) in trained.items():
                boot = N_BOOT if model.removeprefix("saved_") in ("fusion", "image_only", "malignancy") else 0
                if view == "predicted" and isinstance(net, MeanProbability):
                    # each member alone (temperature 1): the single-model spread the mean removes
                    one = {**cfg, "temperature": 1.0}
                    k, labels_, classes = (
                        (2, ym, mal_mod.CLASSES) if model.endswith("malignancy") else (6, y6, SACRAL_CLASSES)
                    )
                    res[f"{model}/members"] = [
                        _auc(labels_, _probs(m, one, feats, k), classes, 0)["auc"] for m in net.members
                    ]
                if model.endswith("malignancy"):
                    res[f"{model}/{view}"] = _auc(ym, _probs(net, cfg, feats, 2), mal_mod.CLASSES, boot)
                else:
                    res[f"{model}/{view}"] = _auc(y6, _probs(net, cfg, feats, 6), SACRAL_CLASSES, boot)
        res["missed"] = sum(1 for i in test if i["predicted"] is None)
        report["results"][name] = res
        print(name, json.dumps(res), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
