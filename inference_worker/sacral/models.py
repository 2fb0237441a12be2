"""The trained sacral models, loaded from the registry once per process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inference_worker.models import registry
from inference_worker.sacral import classifier as cls_mod
from inference_worker.sacral import malignancy as mal_mod
from inference_worker.sacral import segmentation as seg_mod
from inference_worker.sacral.data import TASK

CLASSIFIER_VARIANTS = tuple(cls_mod.VARIANTS)


@dataclass
class SacralModels:
    segmenter: registry.LoadedModel
    classifiers: dict[str, registry.LoadedModel]  # variant -> model
    malignancy: registry.LoadedModel

    @property
    def fusion(self) -> registry.LoadedModel:
        return self.classifiers["fusion"]

    def cards(self, variants=("fusion",)) -> list[dict]:
        chosen = [self.segmenter] + [self.classifiers[v] for v in variants] + [self.malignancy]
        return [
            {
                "name": m.card["name"],
                "version": m.card["version"],
                "sha256": m.card["sha256"],
                "synthetic_training": bool(m.card.get("synthetic_training")),
            }
            for m in chosen
        ]


def load_sacral_models(root: str | Path | None = None, variants=("fusion",)) -> SacralModels:
    def seg(card):
        return seg_mod.build_segmenter(card["config"])

    def cls(card):
        return cls_mod.build_classifier(card["config"])

    def mal(card):
        return mal_mod.build_malignancy(card["config"])

    return SacralModels(
        segmenter=registry.load_model(TASK, "segmenter", build=seg, root=root),
        classifiers={v: registry.load_model(TASK, f"classifier-{v}", build=cls, root=root) for v in variants},
        malignancy=registry.load_model(TASK, "malignancy", build=mal, root=root),
    )
