"""The training loop learns a separable toy task and keeps its best validation epoch."""

from __future__ import annotations

import numpy as np

from inference_worker.radiograph.networks import build_classifier
from inference_worker.radiograph.recipes import for_architecture, recipe
from inference_worker.radiograph.training import _balanced_indices, predict, train_classifier


def _toy(n, rng):
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.3, (n, 1, 32, 32)).astype(np.float32)
    x[y == 1, :, 8:24, 8:24] += 1.5  # positives have a bright square (flip-invariant)
    return x, y


def test_vit_learns_a_bright_square_and_keeps_the_best_epoch():
    rng = np.random.default_rng(0)
    x, y = _toy(64, rng)
    xv, yv = _toy(32, rng)
    net = build_classifier("vit", size=32, params=recipe("tiny")["params"])
    r = recipe("tiny", epochs=6, lr=0.05, step_epochs=4)
    net, info = train_classifier(net, x, y, xv, yv, r, seed=0)
    best = max(h["val_auc"] for h in info["history"])
    assert best > 0.9
    assert info["history"][info["best_epoch"] - 1]["val_auc"] == best
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(yv, predict(net, xv)) == best  # the kept weights are the best epoch's


def test_down_sampling_balances_the_classes():
    y = np.array([0] * 30 + [1] * 10)
    idx = _balanced_indices(y, np.random.default_rng(0))
    assert np.bincount(y[idx]).tolist() == [10, 10]


def test_flips_mirror_rows_and_columns_but_never_swap_views():
    import torch

    from inference_worker.radiograph.training import _flip

    # Channel 0 and 1 are two views (chconcat): a flip must mirror each within itself.
    x = torch.zeros(64, 2, 4, 4)
    x[:, 0, 0, 0] = 1.0  # AP marker in the top-left corner
    x[:, 1] = 5.0  # the lateral view is uniform
    out = _flip(x, torch.Generator().manual_seed(0))
    assert torch.all(out[:, 1] == 5.0) and torch.all(out[:, 0].sum(dim=(1, 2)) == 1.0)
    corners = {(int(r), int(c)) for r, c in (out[:, 0] == 1.0).nonzero()[:, 1:].tolist()}
    assert corners == {(0, 0), (0, 3), (3, 0), (3, 3)}  # both axes flipped, alone and together


def test_task_tuning_changes_only_that_tasks_demo_recipe():
    spine, bone = recipe("demo", "spine-xray"), recipe("demo", "bone-xray")
    assert (spine["optimizer"], spine["batch_size"]) == ("adamw", 8)
    assert (bone["optimizer"], bone["batch_size"], bone["epochs"]) == ("adamw", 8, 8)
    assert {a: for_architecture(bone, a)["epochs"] for a in ("efficientnet-b3", "vit", "swin")} == {
        "efficientnet-b3": 8,
        "vit": 30,
        "swin": 30,
    }
    # bone adds only the EfficientNets' norm groups; the architecture sizes are kept.
    assert bone["params"].pop("efficientnet") == {"norm_groups": 8}
    assert bone["params"] == recipe("demo")["params"]
    assert recipe("tiny", "bone-xray") == recipe("tiny")
    assert "efficientnet" not in spine["params"] and "efficientnet" not in recipe("demo")["params"]
    assert recipe("tiny", "spine-xray") == recipe("tiny")  # tests stay tiny
    assert recipe("demo", "spine-xray", epochs=2)["epochs"] == 2  # the command line wins


def test_per_network_settings_override_the_shared_ones_but_not_a_given_epoch_count(monkeypatch):
    from inference_worker.radiograph import recipes

    own = {"vit": {"lr": 5e-4, "epochs": 30, "step_epochs": 24}}
    monkeypatch.setitem(recipes.DEMO_TUNING, "bone-xray", {"optimizer": "adamw", "architectures": own})
    r = recipe("demo", "bone-xray")
    vit, b3 = recipes.for_architecture(r, "vit"), recipes.for_architecture(r, "efficientnet-b3")
    assert (vit["lr"], vit["epochs"], vit["step_epochs"], vit["optimizer"]) == (5e-4, 30, 24, "adamw")
    assert (b3["lr"], b3["epochs"]) == (r["lr"], r["epochs"]) and "architectures" not in b3
    assert recipes.for_architecture(recipe("demo", "bone-xray", epochs=2), "vit")["epochs"] == 2
    assert recipes.DEMO_TUNING["bone-xray"]["architectures"] == own  # recipe() copied, not consumed
