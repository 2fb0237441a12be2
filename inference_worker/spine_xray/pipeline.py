"""Analyse a spine study (AP and/or lateral): each view model, merge, ensemble, heat-maps.

A study with one view still gets the opinions of the models that need only that view;
the result's ``skipped`` lists the others and why.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from inference_worker import vocabulary as vocab
from inference_worker.io.radiograph import load_radiograph
from inference_worker.models import registry
from inference_worker.radiograph.analysis import View, missing_views, run_model
from inference_worker.radiograph.domain import domain_check
from inference_worker.radiograph.models import card_summary, load_imaging_model
from inference_worker.radiograph.result import opinion, out_of_domain_result, result
from inference_worker.spine_xray.train import DOMAIN, TASK
from inference_worker.spine_xray.views import IMAGING, assign_views

CLASSES = vocab.TASKS[TASK]["classes"]


def load_models(root=None) -> dict:
    return {
        "imaging": {name: load_imaging_model(TASK, name, root) for name in IMAGING},
        "domain": registry.load_model(TASK, DOMAIN, root=root),
    }


def combine(scores: dict) -> dict:
    """The score-level variants: merge (AP and lateral averaged) and the view ensemble.

    Works on one study's floats and on a split's arrays alike.
    """
    out = {}
    if "ap" in scores and "lateral" in scores:
        out["merge"] = (scores["ap"] + scores["lateral"]) / 2
    if scores:
        out["ensemble"] = np.mean(np.stack([np.asarray(v, dtype=float) for v in scores.values()]), axis=0)
    return out


def _parse_box(box) -> tuple[int, int, int, int] | None:
    if box in (None, ""):
        return None
    if isinstance(box, str):
        box = [int(v) for v in box.split(",")]
    return tuple(int(v) for v in box)


def view_boxes(clinical: dict | None) -> dict:
    """{view: box} from the request: ``lesion_box`` frames the vertebra on the AP view,
    ``lateral_box`` on the lateral view, both [x0, y0, x1, y1] in that view's pixels."""
    c = clinical or {}
    found = {"ap": _parse_box(c.get("lesion_box")), "lateral": _parse_box(c.get("lateral_box"))}
    return {k: v for k, v in found.items() if v is not None}


def analyze(paths, *, clinical=None, reader=None, out_dir, progress=None, models=None, saliency=True) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or (lambda stage, fraction: None)
    started = time.perf_counter()
    timings, warnings = {}, []
    models = models or load_models()
    summaries = [card_summary(m.card) for m in models["imaging"].values()]
    radiographs = [load_radiograph(p) for p in paths]
    for r in radiographs:
        warnings.extend(r.warnings)
    views, notes = assign_views(radiographs)
    warnings.extend(notes)
    timings["load"] = time.perf_counter() - started
    reasons, extra = [], {"opinions_given": True, "domain_distance": {}}
    for name, r in views.items():
        view_reasons, view_extra = domain_check(r, models["domain"].state["reference"], warnings)
        reasons += [f"{name} view: {reason}" for reason in view_reasons]
        extra["domain_distance"][name] = view_extra["domain_distance"]
        extra["opinions_given"] &= view_extra["opinions_given"]
    warnings[:] = list(dict.fromkeys(warnings))  # one warning per kind, not one per view
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
    boxes = view_boxes(clinical)
    unboxed = sorted(v for v in views if v not in boxes)
    if unboxed:
        warnings.append(
            f"no vertebra box for the {' and '.join(unboxed)} view: the whole view was analysed "
            "(the models were trained on crops at the abnormal vertebra)"
        )
    study = {name: View(r, boxes.get(name)) for name, r in views.items()}
    opinions, artefacts, scores, skipped = [], {}, {}, {}
    methods = ("gradcam", "scorecam") if saliency else ()
    for k, (name, loaded) in enumerate(models["imaging"].items()):
        lacking = missing_views(loaded.card, study)
        if lacking:
            skipped[name] = f"needs the {' and '.join(lacking)} view"
            continue
        progress(name, 0.1 + 0.8 * k / len(models["imaging"]))
        run = run_model(loaded, study, out, saliency=methods)
        scores[name] = run["p"]
        opinions.append(opinion(name, "imaging", CLASSES, run["p"], run["embedding"]))
        artefacts.update(run["artefacts"])
        timings.update(run["timings"])
    combined = combine(scores)
    if "merge" not in combined:
        skipped["merge"] = "needs both the AP and the lateral view"
    for name, p in combined.items():
        opinions.append(opinion(name, name, CLASSES, p, [scores[k] for k in scores]))
    if not scores:
        warnings.append("no AP or lateral view recognised: no opinion")
    extra.update({"views": sorted(views), "skipped": skipped})
    progress("done", 1.0)
    timings["total"] = time.perf_counter() - started
    return result(
        pipeline=TASK,
        models=summaries,
        out_of_domain=bool(reasons),
        reasons=reasons,
        opinions=opinions,
        location=None,
        artefacts=artefacts,
        timings=timings,
        warnings=warnings,
        extra=extra,
    )
