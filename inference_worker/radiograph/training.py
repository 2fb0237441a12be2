"""The 2D classifier training loop of seed 003 (and reused for seed 004).

BCE on one logit, SGD with momentum and a step learning-rate schedule, random
horizontal and vertical flips (p = 0.5 each), and the weights of the epoch with the
best validation AUC kept (validation loss breaks ties and stands in when the
validation set has one class only).
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def _flip(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    batch = batch.clone()
    for dim in (3, 2):  # horizontal, then vertical
        chosen = torch.rand(batch.shape[0], generator=generator) < 0.5
        if chosen.any():
            batch[chosen] = torch.flip(batch[chosen], dims=(dim,))
    return batch


def _balanced_indices(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random down-sampling of the majority class to the minority's size (seed 004's option)."""
    groups = [np.flatnonzero(y == c) for c in (0, 1)]
    k = min(len(g) for g in groups)
    if k == 0:
        return np.arange(len(y))
    return np.concatenate([rng.choice(g, size=k, replace=False) for g in groups])


@torch.no_grad()
def predict(network: nn.Module, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Positive-class probabilities of a single-logit network."""
    network.eval()
    device = next(network.parameters()).device
    out = []
    for start in range(0, len(x), batch_size):
        logits = network(torch.as_tensor(x[start : start + batch_size]).to(device))
        out.append(torch.sigmoid(logits[:, 0]).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _score(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    eps = 1e-6
    loss = float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else math.nan
    return auc, loss


def train_classifier(
    network: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    recipe: dict,
    seed: int = 0,
    log=None,
) -> tuple[nn.Module, dict]:
    """Train in place; return the network holding its best validation epoch, and the history.

    Runs on the worker's device (OSTEOLENS_DEVICE); the flips are drawn on the host
    generator so a seed gives the same augmentation on every device.
    """
    from inference_worker.devices import device as worker_device

    device = worker_device()
    network.to(device)
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    if recipe.get("optimizer", "sgd") == "adamw":
        # Not the papers' choice: offered because from-scratch SGD needs far more steps than a
        # shared CPU affords (measured: B0 spine models stayed at chance after 15 SGD epochs).
        optimiser = torch.optim.AdamW(
            network.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"]
        )
    else:
        optimiser = torch.optim.SGD(
            network.parameters(),
            lr=recipe["lr"],
            momentum=recipe["momentum"],
            weight_decay=recipe["weight_decay"],
        )
    schedule = torch.optim.lr_scheduler.StepLR(
        optimiser, step_size=recipe["step_epochs"], gamma=recipe["gamma"]
    )
    loss_fn = nn.BCEWithLogitsLoss()
    y_train = np.asarray(y_train, dtype=np.float32)
    best = (-math.inf, math.inf)
    best_state, history = None, []
    started = time.perf_counter()
    for epoch in range(recipe["epochs"]):
        network.train()
        chosen = (
            _balanced_indices(y_train, rng)
            if recipe.get("balance") == "downsample"
            else np.arange(len(y_train))
        )
        order = rng.permutation(chosen)
        total = 0.0
        for start in range(0, len(order), recipe["batch_size"]):
            idx = order[start : start + recipe["batch_size"]]
            if len(idx) < 2:  # batch norm cannot train on a single image
                continue
            xb = _flip(torch.as_tensor(x_train[idx]), generator).to(device, non_blocking=True)
            yb = torch.as_tensor(y_train[idx])[:, None].to(device, non_blocking=True)
            optimiser.zero_grad()
            loss = loss_fn(network(xb), yb)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        schedule.step()
        auc, val_loss = (
            _score(np.asarray(y_val), predict(network, x_val)) if len(x_val) else (math.nan, math.nan)
        )
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": total / max(len(order), 1),
                "val_auc": auc,
                "val_loss": val_loss,
            }
        )
        key = (-math.inf if math.isnan(auc) else auc, -val_loss if not math.isnan(val_loss) else -math.inf)
        if best_state is None or key > (best[0], -best[1]):
            best = (key[0], -key[1])
            best_state = copy.deepcopy(network.state_dict())
            history[-1]["best"] = True
        if log:
            log(
                f"epoch {epoch + 1}/{recipe['epochs']} loss {history[-1]['train_loss']:.3f} val auc {auc:.3f}"
            )
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return network, {
        "history": history,
        "seconds": round(time.perf_counter() - started, 1),
        "best_epoch": next((h["epoch"] for h in reversed(history) if h.get("best")), None),
    }
