"""Saving, loading and running the radiograph imaging models through the shared registry.

A card's ``config`` holds everything inference needs to rebuild the input exactly as in
training: architecture parameters, input size, views, CLAHE, crop margin and the
training set's intensity mean and standard deviation (seed 003 normalises with them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from inference_worker.models import registry
from inference_worker.radiograph.networks import build_from_card
from inference_worker.radiograph.preprocess import normalise


def model_config(
    recipe: dict,
    *,
    mean: float,
    std: float,
    views: int = 1,
    in_channels: int = 1,
    use_clahe: bool = False,
    use_box: bool = True,
    view_names: list[str] | None = None,
) -> dict:
    return {
        "recipe": recipe["name"],
        "size": recipe["size"],
        "params": recipe["params"],
        "training": {
            k: recipe.get(k)
            for k in (
                "optimizer",
                "epochs",
                "batch_size",
                "lr",
                "momentum",
                "weight_decay",
                "step_epochs",
                "gamma",
                "balance",
            )
        },
        "views": views,
        "in_channels": in_channels,
        "view_names": view_names or ["image"],
        "clahe": use_clahe,
        "lesion_box": use_box,
        "mean": float(mean),
        "std": float(std),
    }


def save_imaging_model(
    *,
    task,
    name,
    network,
    architecture,
    config,
    seed,
    split_sizes,
    metrics,
    synthetic,
    manifest,
    root,
    history,
) -> Path:
    return registry.save_model(
        task=task,
        name=name,
        state={"state_dict": network.state_dict()},
        architecture=architecture,
        config=config,
        seed=seed,
        split_sizes=split_sizes,
        metrics=metrics,
        synthetic_training=synthetic,
        data_manifest=manifest,
        extra={"history": history},
        root=root,
    )


def load_imaging_model(task: str, name: str, root: str | Path | None = None) -> registry.LoadedModel:
    return registry.load_model(task, name, build=build_from_card, root=root)


def card_summary(card: dict) -> dict:
    return {
        "name": card["name"],
        "version": card["version"],
        "sha256": card["sha256"],
        "synthetic_training": bool(card.get("synthetic_training")),
    }


def prepare(x: np.ndarray, config: dict) -> np.ndarray:
    return normalise(x, config["mean"], config["std"])


@torch.no_grad()
def score_and_embed(
    network: torch.nn.Module, x: np.ndarray, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Positive-class probabilities and pooled embeddings of normalised inputs (n, C, S, S)."""
    network.eval()
    device = next(network.parameters()).device
    probs, embeds = [], []
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[start : start + batch_size]).to(device)
        e = network.embed(xb)
        probs.append(torch.sigmoid(network.fc(e)[:, 0]).float().cpu().numpy())
        embeds.append(e.float().cpu().numpy())
    return np.concatenate(probs), np.concatenate(embeds)
