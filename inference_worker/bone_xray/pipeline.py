"""Analyse one radiograph: four imaging opinions, the ensemble's, and their heat-maps."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from inference_worker import vocabulary as vocab
from inference_worker.bone_xray import clinical as clin
from inference_worker.bone_xray.train import DOMAIN, ENSEMBLE, IMAGING, TASK
from inference_worker.io.radiograph import load_radiograph
from inference_worker.models import registry
from inference_worker.radiograph.analysis import View, run_model
from inference_worker.radiograph.domain import domain_check
from inference_worker.radiograph.models import card_summary, load_imaging_model
from inference_worker.radiograph.result import opinion, out_of_domain_result, result

CLASSES = vocab.TASKS[TASK]["classes"]


def load_models(root=None) -> dict:
    imaging = {name: load_imaging_model(TASK, name, root) for name in IMAGING}
    return {
        "imaging": imaging,
        "ensemble": registry.load_model(TASK, ENSEMBLE, root=root),
        "domain": registry.load_model(TASK, DOMAIN, root=root),
    }


def _box(clinical: dict | None):
    box = (clinical or {}).get("lesion_box")
    if box in (None, ""):
        return None
    if isinstance(box, str):
        box = [int(v) for v in box.split(",")]
    return tuple(int(v) for v in box)


def analyze(paths, *, clinical=None, reader=None, out_dir, progress=None, models=None, saliency=True) -> dict:
    """``clinical`` may hold age, sex, site_group and ``lesion_box`` [x0, y0, x1, y1] in pixels."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or (lambda stage, fraction: None)
    started = time.perf_counter()
    timings, warnings = {}, []
    models = models or load_models()
    summaries = [card_summary(m.card) for m in (*models["imaging"].values(), models["ensemble"])]
    progress("loading", 0.05)
    paths = [str(p) for p in paths]
    if len(paths) != 1:
        warnings.append(f"{len(paths)} files given; only the first is analysed")
    image = load_radiograph(paths[0])
    warnings.extend(image.warnings)
    timings["load"] = time.perf_counter() - started
    box = _box(clinical)
    if box is None:
        warnings.append(
            "no lesion box given: the whole radiograph was analysed (the models were trained on lesion crops)"
        )
    reasons, extra = domain_check(image, models["domain"].state["reference"], warnings)
    if reasons and not extra["opinions_given"]:
        return out_of_domain_result(
            pipeline=TASK,
            models=summaries,
            reasons=reasons,
            timings=timings,
            warnings=warnings,
            extra=extra,
            started=started,
        )
    if reader:
        warnings.append("reader input is not used by the bone-xray pipeline")
    study = {"image": View(image, box)}
    opinions, artefacts, scores = [], {}, []
    methods = ("gradcam", "scorecam") if saliency else ()
    for k, (name, loaded) in enumerate(models["imaging"].items()):
        progress(f"{name}", 0.1 + 0.8 * k / len(models["imaging"]))
        run = run_model(loaded, study, out, saliency=methods)
        scores.append(run["p"])
        opinions.append(opinion(name, "imaging", CLASSES, run["p"], run["embedding"]))
        artefacts.update(run["artefacts"])
        timings.update(run["timings"])
        extra["geometry"] = run["geometries"]["image"]
    state = models["ensemble"].state
    features, imputed = clin.features(clinical, state["imputation"])
    if imputed:
        warnings.append(f"clinical inputs missing, imputed from the training set: {', '.join(imputed)}")
    stack = np.concatenate([scores, features])[None]
    p = float(state["stacker"].predict_proba(stack)[0, 1])
    opinions.append(opinion(ENSEMBLE, "ensemble", CLASSES, p, stack[0]))
    progress("done", 1.0)
    timings["total"] = time.perf_counter() - started
    location = {"box": list(box)} if box else None
    return result(
        pipeline=TASK,
        models=summaries,
        out_of_domain=bool(reasons),
        reasons=reasons,
        opinions=opinions,
        location=location,
        artefacts=artefacts,
        timings=timings,
        warnings=warnings,
        extra=extra,
    )
