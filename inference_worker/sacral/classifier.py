"""Model 2 of seed 001 (CL-MedImageNet-like): six-class fusion classifier.

A small 3D CNN encodes the tumour crop; a small MLP encodes the tabular inputs
(standardised clinical variables and/or the hip-frame location); both are joined and
a fully connected layer gives the embedding (penultimate layer, kept for case
retrieval) and then the six logits. Variants for the ablation switch tabular groups off.
"""

from __future__ import annotations

import torch
from torch import nn

from inference_worker.sacral.ensemble import MeanProbability, build_members
from inference_worker.sacral.tabular import CLINICAL, LOCATION
from inference_worker.vocabulary import SACRAL_CLASSES

VARIANTS = {
    "image_only": (),
    "image_clinical": ("clinical",),
    "image_location": ("location",),
    "fusion": ("clinical", "location"),
}
# The crop is average-pooled by 2 before the first block and widths start at 8: at full
# resolution one training epoch of 120 crops cost 27 CPU-seconds (minutes of wall time
# on 2 shared cores), eight times what the pooled input costs.
DEFAULT_CONFIG = {"crop": 32, "widths": [8, 16, 32, 64], "embedding": 64, "dropout": 0.2, "input_pool": 2}
CAM_LAYER = "image.3"  # last conv block: the finest map that still knows the class


def tabular_columns(groups) -> list[str]:
    cols: list[str] = []
    if "clinical" in groups:
        cols += list(CLINICAL)
    if "location" in groups:
        cols += list(LOCATION)
    return cols


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
        nn.Conv3d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


class FusionClassifier(nn.Module):
    def __init__(
        self,
        n_tabular: int,
        widths=(16, 32, 48, 64),
        embedding: int = 64,
        dropout: float = 0.2,
        n_classes: int = len(SACRAL_CLASSES),
        in_channels: int = 2,
        input_pool: int = 1,
    ):
        super().__init__()
        self.pre = nn.AvgPool3d(input_pool) if input_pool > 1 else nn.Identity()
        blocks, cin = [], in_channels
        for w in widths:
            blocks.append(_block(cin, w))
            cin = w
        self.image = nn.Sequential(*blocks)
        self.pool = nn.MaxPool3d(2)
        self.n_tabular = n_tabular
        self.tabular = nn.Sequential(nn.Linear(n_tabular, 16), nn.ReLU(inplace=True)) if n_tabular else None
        self.fuse = nn.Sequential(nn.Linear(cin + (16 if n_tabular else 0), embedding), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(embedding, n_classes)

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        x = self.pre(image)
        for i, block in enumerate(self.image):
            x = block(x)
            if i < len(self.image) - 1:
                x = self.pool(x)
        return x.mean(dim=(2, 3, 4))

    def embed(self, image: torch.Tensor, tabular: torch.Tensor | None = None) -> torch.Tensor:
        parts = [self.encode(image)]
        if self.tabular is not None:
            parts.append(self.tabular(tabular))
        return self.fuse(torch.cat(parts, dim=1))

    def forward(self, image: torch.Tensor, tabular: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.drop(self.embed(image, tabular)))


class WithTabular(nn.Module):
    """One-input view for saliency tools: the tabular inputs of one case are fixed."""

    def __init__(self, net: FusionClassifier, tabular: torch.Tensor | None):
        super().__init__()
        self.net = net
        self.register_buffer("fixed", tabular if tabular is not None else torch.zeros(1, 0))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        tab = self.fixed.expand(image.shape[0], -1) if self.net.n_tabular else None
        return self.net(image, tab)


def build_classifier(card_config: dict, seed: int | None = None) -> nn.Module:
    """The network of a card: one FusionClassifier, or a ``MeanProbability`` of
    ``members`` of them (``ensemble.build_members``). With ``seed`` (training) each
    member's initial weights come from its own seed alone, not from whatever the global
    torch RNG went through before (the segmenter's schedule used to change the
    image-only variant's start)."""

    def one():
        return FusionClassifier(
            n_tabular=len(card_config["tabular_columns"]),
            widths=tuple(card_config["widths"]),
            embedding=card_config["embedding"],
            dropout=card_config["dropout"],
            input_pool=card_config.get("input_pool", 1),  # cards from before pooling: none
        )

    return build_members(one, card_config.get("members", 1), seed)


def cam_layer(network: nn.Module) -> str:
    """Grad-CAM layer path: an ensemble explains through its first member (the one whose
    embedding case retrieval uses), whose gradient carries its share of the mean."""
    return f"members.0.{CAM_LAYER}" if isinstance(network, MeanProbability) else CAM_LAYER
