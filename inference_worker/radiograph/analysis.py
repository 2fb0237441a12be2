"""One imaging model on one study: input, score, embedding, CAMs on the original views.

Shared by the bone-xray and spine-xray pipelines. A study is a dict of named views
(``{"image": ...}`` or ``{"ap": ..., "lateral": ...}``), each a loaded radiograph with
an optional lesion box; the model card says which views a model needs and how it
preprocessed them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from inference_worker.io.radiograph import Radiograph
from inference_worker.radiograph.models import prepare, score_and_embed
from inference_worker.radiograph.overlay import METHODS, model_cams, write_overlays
from inference_worker.radiograph.preprocess import Geometry, to_model


@dataclass
class View:
    radiograph: Radiograph
    box: tuple[int, int, int, int] | None = None


def missing_views(card: dict, study: dict[str, View]) -> list[str]:
    return [v for v in card["config"]["view_names"] if v not in study]


def model_input(card: dict, study: dict[str, View]) -> tuple[np.ndarray, dict[str, Geometry]]:
    """Normalised (C, S, S) input and each view's geometry, as the card's training did."""
    c = card["config"]
    channels, geometries = [], {}
    for name in c["view_names"]:
        view = study[name]
        box = view.box if c.get("lesion_box", True) else None
        image, geometry = to_model(
            view.radiograph.pixels, c["size"], box=box, use_clahe=c.get("clahe", False)
        )
        channels.append(image)
        geometries[name] = geometry
    return prepare(np.stack(channels), c), geometries


def run_model(loaded, study: dict[str, View], out_dir, *, saliency=METHODS, max_channels: int = 32) -> dict:
    """{p, embedding, artefacts, timings} of one loaded model on one study."""
    card, network = loaded.card, loaded.network
    x, geometries = model_input(card, study)
    started = time.perf_counter()
    p, embedding = score_and_embed(network, x[None])
    timings = {f"{card['name']}_inference": time.perf_counter() - started}
    artefacts = {}
    names = card["config"]["view_names"]
    # One CAM layer per encoder: per view for "concat" models, all channels otherwise.
    for i, layer in enumerate(network.cam_layers):
        layer_views = [names[i]] if len(network.cam_layers) > 1 else names
        if not saliency:
            break
        started = time.perf_counter()
        maps = model_cams(network, x, layer, methods=saliency, max_channels=max_channels)
        timings[f"{card['name']}_{'_'.join(layer_views)}_saliency"] = time.perf_counter() - started
        for view_name in layer_views:
            prefix = card["name"] if len(study) == 1 else f"{card['name']}_{view_name}"
            artefacts.update(
                write_overlays(
                    study[view_name].radiograph.pixels, maps, geometries[view_name], out_dir, prefix
                )
            )
    return {
        "p": float(p[0]),
        "embedding": embedding[0],
        "artefacts": artefacts,
        "timings": timings,
        "geometries": {k: g.as_dict() for k, g in geometries.items()},
    }
