"""Seed 003's ensemble: imaging scores + clinical features -> a classical learner.

Two-step cross-validation so that no imaging model scores its own training images:
step 1 trains each imaging model k times on k-1 folds of the training set and scores
the held-out fold (out-of-fold scores); step 2 fits the learner on those scores plus
the clinical features, its hyper-parameters tuned by five-fold cross-validation.
At inference the imaging models trained on the whole training set supply the scores.
Random Forest is the served learner (it won in the paper); the others are refitted on
the same out-of-fold data for the evaluation's comparison.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier


def learners(seed: int) -> dict:
    """name -> (estimator, hyper-parameter grid)."""
    found = {
        "random_forest": (
            RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1),
            {"max_depth": [3, 6, None], "min_samples_leaf": [1, 5]},
        ),
        "logistic_regression": (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            {"logisticregression__C": [0.1, 1.0, 10.0]},
        ),
        "gbdt": (
            GradientBoostingClassifier(random_state=seed),
            {"max_depth": [2, 3], "n_estimators": [50, 150]},
        ),
        "adaboost": (AdaBoostClassifier(random_state=seed), {"n_estimators": [50, 150]}),
        "knn": (
            make_pipeline(StandardScaler(), KNeighborsClassifier()),
            {"kneighborsclassifier__n_neighbors": [5, 15, 31]},
        ),
        "decision_tree": (DecisionTreeClassifier(random_state=seed), {"max_depth": [2, 4, 6]}),
    }
    # LightGBM and XGBoost (seed 003 also compared them) when installed.
    try:
        from lightgbm import LGBMClassifier

        found["lightgbm"] = (
            LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1),
            {"num_leaves": [7, 15], "n_estimators": [50, 150]},
        )
    except ImportError:
        pass
    try:
        from xgboost import XGBClassifier

        found["xgboost"] = (
            XGBClassifier(random_state=seed, n_jobs=1),
            {"max_depth": [2, 4], "n_estimators": [50, 150]},
        )
    except ImportError:
        pass
    return found


def fold_indices(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    folds = max(2, min(folds, int(np.bincount(y, minlength=2).min())))
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def fit_learner(name: str, x: np.ndarray, y: np.ndarray, seed: int, cv: int = 5):
    estimator, grid = learners(seed)[name]
    cv = max(2, min(cv, int(np.bincount(y, minlength=2).min())))
    key = "kneighborsclassifier__n_neighbors"
    if key in grid:  # small training sets: no more neighbours than a CV fold holds
        fold_size = len(y) - -(-len(y) // cv)
        grid = {key: sorted({min(k, max(1, fold_size)) for k in grid[key]})}
    search = GridSearchCV(
        estimator, grid, scoring="roc_auc", cv=StratifiedKFold(cv, shuffle=True, random_state=seed)
    )
    search.fit(x, y)
    return search.best_estimator_, {"params": search.best_params_, "cv_auc": float(search.best_score_)}
