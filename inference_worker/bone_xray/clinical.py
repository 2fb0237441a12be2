"""Seed 003's clinical inputs to the ensemble: age, sex and axial/appendicular site.

Missing values are imputed with the training set's statistics (mean age, share of
males, share of axial sites) and flagged by a missingness indicator, so a learner can
tell an imputed value from a measured one.
"""

from __future__ import annotations

import numpy as np

NAMES = ("age", "male", "axial", "age_missing", "sex_missing", "site_missing")


def raw(clinical: dict | None) -> tuple[float | None, float | None, float | None]:
    c = clinical or {}
    age = c.get("age")
    sex = c.get("sex")
    site = c.get("site_group")
    return (
        None if age in (None, "") else float(age),
        None if sex not in ("M", "F") else float(sex == "M"),
        None if site not in ("axial", "appendicular") else float(site == "axial"),
    )


def fit_imputation(clinicals: list[dict]) -> dict:
    values = np.array([[np.nan if v is None else v for v in raw(c)] for c in clinicals], dtype=float)
    fill = np.nanmean(values, axis=0) if len(values) else np.full(3, np.nan)
    defaults = (40.0, 0.5, 0.3)  # only used when a training column is entirely missing
    return {
        k: float(defaults[i] if np.isnan(fill[i]) else fill[i])
        for i, k in enumerate(("age", "male", "axial"))
    }


def features(clinical: dict | None, imputation: dict) -> tuple[np.ndarray, list[str]]:
    """The six-value vector (NAMES order) and which inputs were imputed."""
    values = raw(clinical)
    fills = (imputation["age"], imputation["male"], imputation["axial"])
    out = [fills[i] if v is None else v for i, v in enumerate(values)]
    missing = [float(v is None) for v in values]
    imputed = [n for n, v in zip(("age", "sex", "site_group"), values, strict=True) if v is None]
    return np.array(out + missing, dtype=float), imputed
