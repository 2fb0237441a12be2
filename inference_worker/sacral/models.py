"""The trained sacral models, loaded from the registry once per process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inference_worker.models import registry
from inference_worker.sacral import classifier as cls_mod
from inference_worker.sacral import fine_stage
from inference_worker.sacral import malignancy as mal_mod
from inference_worker.sacral import segmentation as seg_mod
from inference_worker.sacral.data import TASK

CLASSIFIER_VARIANTS = tuple(cls_mod.VARIANTS)


@dataclass
class SacralModels:
    segmenter: registry.LoadedModel
    classifiers: dict[str, registry.LoadedModel]  # variant -> model
    malignancy: registry.LoadedModel
    # None for model folders trained before the fine stage: coarse tumour outline only.
    fine_segmenter: registry.LoadedModel | None = None

    @property
    def fusion(self) -> registry.LoadedModel:
        return self.classifiers["fusion"]

    @property
    def fine(self) -> tuple | None:
        """(network, config) for ``segmentation.segment(..., fine=)``, or None."""
        if self.fine_segmenter is None:
            return None
        return self.fine_segmenter.network, self.fine_segmenter.card["config"]

    def segment(self, hu, affine) -> dict:
        """The whole segmenter (coarse, then the fine tumour stage when there is one)."""
        seg = self.segmenter
        return seg_mod.segment(seg.network, hu, affine, seg.card["config"], seg.device, fine=self.fine)

    def cards(self, variants=("fusion",)) -> list[dict]:
        fine = [self.fine_segmenter] if self.fine_segmenter is not None else []
        chosen = [self.segmenter, *fine] + [self.classifiers[v] for v in variants] + [self.malignancy]
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

    def fine(card):
        return fine_stage.build_fine_segmenter(card["config"])

    try:
        fine_segmenter = registry.load_model(TASK, fine_stage.NAME, build=fine, root=root)
    except FileNotFoundError:
        # A folder trained before the fine stage existed: still usable, coarse outline only
        # (the pipeline says so in its warnings). A damaged fine stage (bad sha256) raises.
        fine_segmenter = None

    return SacralModels(
        segmenter=registry.load_model(TASK, "segmenter", build=seg, root=root),
        classifiers={v: registry.load_model(TASK, f"classifier-{v}", build=cls, root=root) for v in variants},
        malignancy=registry.load_model(TASK, "malignancy", build=mal, root=root),
        fine_segmenter=fine_segmenter,
    )
