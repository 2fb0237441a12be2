"""``analyze``: one sacral CT in, the result contract out (plus artefact files).

Stages: loading -> segmenting -> classifying -> saliency -> done. Out-of-domain inputs
stop after the check that fails and return reasons with no opinions.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from inference_worker.io.ct import load_ct
from inference_worker.sacral import classifier as cls_mod
from inference_worker.sacral import domain
from inference_worker.sacral import malignancy as mal_mod
from inference_worker.sacral.artefacts import key_image, map_crop_to_grid, write_nifti
from inference_worker.sacral.calibration import softmax
from inference_worker.sacral.crop import crop_geometry
from inference_worker.sacral.features import case_features, tabular_raw
from inference_worker.sacral.fine_stage import FINE_MISSING_WARNING
from inference_worker.sacral.models import SacralModels, load_sacral_models
from inference_worker.sacral.preprocess import STRUCTURES
from inference_worker.sacral.segmentation import structure_volumes
from inference_worker.sacral.tabular import standardise
from inference_worker.vocabulary import SACRAL_CLASSES

PIPELINE = "sacral-ct"
DISCLAIMER = "Research use only; not for clinical use"


def _noop(stage: str, fraction: float) -> None:
    pass


def _rounded(probs: np.ndarray, classes) -> dict:
    return {c: round(float(p), 5) for c, p in zip(classes, probs, strict=True)}


def classify(
    models: SacralModels, features: dict, reader: dict | None, variant: str = "fusion"
) -> tuple[list, dict]:
    """Opinions of the six-class model and the malignancy model (+ reader ensemble)."""
    loaded = models.classifiers[variant]
    cfg = loaded.card["config"]
    device = loaded.device
    image = torch.as_tensor(features["crop"])[None].to(device)
    columns = cfg["tabular_columns"]
    tab = None
    if columns:
        tab = torch.as_tensor(
            standardise(np.array([tabular_raw(features, columns)]), cfg["tabular_stats"])
        ).to(device)
    with torch.no_grad():
        embedding = loaded.network.embed(image, tab)
        # forward, not out(embedding): an ensemble's output is its members' mean.
        logits = (loaded.network(image, tab) if tab is not None else loaded.network(image)).cpu().numpy()[0]
    probs = softmax(logits, cfg["temperature"])
    opinions = [
        {
            "model": f"{loaded.card['name']}:{loaded.card['version']}",
            "kind": "six_class",
            "probabilities": _rounded(probs, SACRAL_CLASSES),
            "top_class": SACRAL_CLASSES[int(probs.argmax())],
            "embedding": [round(float(v), 5) for v in embedding.cpu().numpy()[0]],
        }
    ]
    mal = models.malignancy
    with torch.no_grad():
        mal_logits = mal.network(torch.as_tensor(features["crop"])[None].to(mal.device)).cpu().numpy()[0]
    p_mal = softmax(mal_logits, mal.card["config"]["temperature"])
    opinions.append(
        {
            "model": f"{mal.card['name']}:{mal.card['version']}",
            "kind": "malignancy",
            "probabilities": _rounded(p_mal, mal_mod.CLASSES),
            "top_class": mal_mod.CLASSES[int(p_mal.argmax())],
            "embedding": opinions[0]["embedding"],
        }
    )
    if reader is not None:
        p = float(mal_mod.apply_stacker(mal.card["config"]["stacker"], [p_mal[1]], [reader])[0])
        opinions.append(
            {
                "model": f"{mal.card['name']}:{mal.card['version']}+reader",
                "kind": "malignancy_with_reader",
                "probabilities": _rounded(np.array([1 - p, p]), mal_mod.CLASSES),
                "top_class": mal_mod.CLASSES[int(p >= 0.5)],
                "embedding": opinions[0]["embedding"],
            }
        )
    return opinions, {"probs": probs, "tab": tab, "image": image}


def _saliency(models: SacralModels, state: dict, class_index: int) -> tuple[dict, list[str]]:
    """Grad-CAM and Score-CAM of the fusion classifier on the crop, [0, 1] at crop size."""
    maps, warnings = {}, []
    view = cls_mod.WithTabular(models.fusion.network, state["tab"]).eval()
    layer = f"net.{cls_mod.cam_layer(models.fusion.network)}"
    try:
        from inference_worker.saliency.gradcam import grad_cam

        maps["gradcam"] = np.asarray(grad_cam(view, state["image"], layer, class_index), dtype=np.float32)
    except ImportError:
        warnings.append("Grad-CAM unavailable in this build")
    try:
        from inference_worker.saliency.scorecam import score_cam

        maps["scorecam"] = np.asarray(score_cam(view, state["image"], layer, class_index), dtype=np.float32)
    except ImportError:
        warnings.append("Score-CAM unavailable in this build")
    return {k: np.squeeze(v) for k, v in maps.items()}, warnings


def analyze(
    paths: list[str],
    *,
    clinical: dict | None = None,
    reader: dict | None = None,
    out_dir: str,
    progress=None,
    models: SacralModels | None = None,
    saliency: bool = True,
) -> dict:
    progress = progress or _noop
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    warnings: list[str] = []
    if reader is not None:
        reader = mal_mod.validate_reader(reader)

    progress("loading", 0.0)
    t = time.perf_counter()
    ct = load_ct(list(paths))
    models = models or load_sacral_models()
    timings["loading"] = round(time.perf_counter() - t, 3)
    result = {
        "pipeline": PIPELINE,
        "models": models.cards(),
        "out_of_domain": False,
        "reasons": [],
        "opinions": [],
        "location": None,
        "segmentation": {},
        "artefacts": {},
        "timings": timings,
        "warnings": warnings,
        "synthetic_training": any(m["synthetic_training"] for m in models.cards()),
        "disclaimer": DISCLAIMER,
    }
    reasons = domain.input_checks(ct, models.segmenter.card.get("hu_reference"))

    progress("segmenting", 0.1)
    t = time.perf_counter()
    seg = models.segment(ct.hu, ct.affine)
    if models.fine is None:
        warnings.append(FINE_MISSING_WARNING)
    elif "seconds" in seg["fine"]:
        timings["fine_stage"] = seg["fine"]["seconds"]  # part of "segmenting"
    labels = seg["labels"]
    volumes = structure_volumes(labels, ct.affine)
    result["segmentation"] = volumes
    reasons += domain.segmentation_checks(volumes, seg["confidence"])
    result["artefacts"]["labels"] = write_nifti(labels, ct.affine, out / "labels.nii.gz").name
    if ct.source == "dicom":
        try:
            from inference_worker.sacral.seg_dicom import write_seg

            path = write_seg(ct, labels, out / "seg.dcm", models.segmenter.card)
            if path is not None:
                result["artefacts"]["seg_dicom"] = path.name
        except Exception as exc:  # noqa: BLE001 - a SEG failure must not lose the analysis
            warnings.append(f"DICOM SEG not written: {exc}")
    timings["segmenting"] = round(time.perf_counter() - t, 3)

    tumour = labels == STRUCTURES["tumour"]
    if tumour.any():
        k = int(round(np.argwhere(tumour)[:, 2].mean()))
        result["artefacts"]["key_image"] = key_image(
            ct.hu, labels, k, out / "key_mask.png", title="Segmentation"
        ).name
    if not tumour.any() and not any("tumour" in r for r in reasons):
        reasons.append("no sacral tumour found")  # nothing to classify, whatever the checks say
    if reasons:
        result["out_of_domain"] = True
        result["reasons"] = reasons
        progress("done", 1.0)
        return result

    progress("classifying", 0.5)
    t = time.perf_counter()
    crop_size = models.fusion.card["config"]["crop"]
    features = case_features(ct.hu, labels, ct.affine, clinical, crop_size)
    result["location"] = features["location"]
    if clinical is None or clinical.get("age") is None or clinical.get("sex") is None:
        warnings.append("age or sex missing: the classifier used the training average in its place")
    opinions, state = classify(models, features, reader)
    result["opinions"] = opinions
    timings["classifying"] = round(time.perf_counter() - t, 3)

    if saliency:
        progress("saliency", 0.7)
        t = time.perf_counter()
        maps, notes = _saliency(models, state, int(state["probs"].argmax()))
        warnings += notes
        centre, side = crop_geometry(tumour, ct.affine)
        for name, cam in maps.items():
            heat = map_crop_to_grid(cam, centre, side, ct.hu.shape, ct.affine)
            result["artefacts"][name] = write_nifti(heat, ct.affine, out / f"{name}.nii.gz").name
            result["artefacts"][f"key_image_{name}"] = key_image(
                ct.hu,
                labels,
                k,
                out / f"key_{name}.png",
                heat=heat,
                title=f"{name} ({opinions[0]['top_class']})",
            ).name
        timings["saliency"] = round(time.perf_counter() - t, 3)
    progress("done", 1.0)
    return result
