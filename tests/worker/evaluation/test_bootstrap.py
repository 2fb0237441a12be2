"""Percentile bootstrap: reproducible, stratified, and tolerant of undefined replicates."""

from __future__ import annotations

import numpy as np
import pytest

from inference_worker.evaluation.stats import bootstrap_ci


def test_mean_ci_covers_truth_and_is_reproducible():
    x = np.random.default_rng(0).normal(3.0, 1.0, 400)
    ci = bootstrap_ci(np.mean, x, n_boot=500, seed=1)
    assert ci.low < 3.0 < ci.high
    assert ci == bootstrap_ci(np.mean, x, n_boot=500, seed=1)
    # close to the normal-theory interval
    assert ci.high - ci.low == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.2)


def test_stratified_keeps_class_sizes_and_skips_undefined():
    y = np.array([0] * 30 + [1] * 3)
    seen = []
    bootstrap_ci(lambda v: seen.append(v.sum()) or float(v.mean()), y, n_boot=50, seed=0, stratify=y)
    assert set(seen) == {3}
    ci = bootstrap_ci(lambda v: None if v.sum() == 0 else float(v.mean()), y, n_boot=200, seed=0)
    assert 0 < ci.low <= ci.high
    with pytest.raises(ValueError):
        bootstrap_ci(lambda v: None, y, n_boot=5)
