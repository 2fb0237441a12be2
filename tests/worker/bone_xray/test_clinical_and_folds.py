"""Clinical inputs of the ensemble and the folds of the two-step cross-validation."""

from __future__ import annotations

import numpy as np

from inference_worker.bone_xray import clinical as clin
from inference_worker.bone_xray.stacking import fold_indices


def test_imputation_uses_training_statistics_and_flags_missing_values():
    imputation = clin.fit_imputation(
        [{"age": 20, "sex": "M", "site_group": "axial"}, {"age": 40, "sex": "F", "site_group": None}]
    )
    assert imputation == {"age": 30.0, "male": 0.5, "axial": 1.0}
    values, imputed = clin.features({"sex": "F"}, imputation)
    assert values.tolist() == [30.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert imputed == ["age", "site_group"]
    assert clin.features(None, imputation)[1] == ["age", "sex", "site_group"]


def test_out_of_fold_folds_cover_each_training_case_once():
    y = np.array([0, 1] * 10)
    folds = fold_indices(y, 5, seed=0)
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(20))
    for fit, held_out in folds:
        assert not set(fit) & set(held_out)  # no model scores its own training images
