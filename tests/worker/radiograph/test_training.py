"""The training loop learns a separable toy task and keeps its best validation epoch."""

from __future__ import annotations

import numpy as np

from inference_worker.radiograph.networks import build_classifier
from inference_worker.radiograph.recipes import recipe
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
