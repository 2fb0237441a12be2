"""Agreement and paired tests, checked against independent statsmodels / sklearn calls."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats import inter_rater
from statsmodels.stats.proportion import proportion_confint

from inference_worker.evaluation.stats import cochrans_q, cohen_kappa, fleiss_kappa, mcnemar, wilson_ci


def test_wilson_matches_statsmodels_and_handles_extremes():
    assert wilson_ci(881, 1000) == pytest.approx(proportion_confint(881, 1000, method="wilson"))
    lo, hi = wilson_ci(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0 < hi < 0.35
    lo, hi = wilson_ci(10, 10)
    assert hi == pytest.approx(1.0) and lo > 0.65
    assert wilson_ci(0, 0) == (0.0, 1.0)


def test_wilson_textbook_value():
    # Newcombe (1998) example: 81 of 263 -> Wilson 0.2553 to 0.3662
    lo, hi = wilson_ci(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize("seed", [0, 1])
def test_cohen_kappa_matches_sklearn_with_string_labels(seed):
    rng = np.random.default_rng(seed)
    a = rng.choice(["tumour", "infection", "other"], 80)
    b = np.where(rng.random(80) < 0.7, a, rng.choice(["tumour", "infection", "other"], 80))
    res = cohen_kappa(list(a), list(b))
    assert res.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert res.ci_low < res.kappa < res.ci_high
    assert res.se > 0


def test_cohen_kappa_degenerate_and_perfect():
    assert cohen_kappa(["a"] * 5, ["a"] * 5).kappa is None
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]).kappa == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cohen_kappa([0, 1], [0])


def test_fleiss_kappa_from_labels_equals_table_form():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 40)
    labels = np.stack(
        [np.where(rng.random(40) < 0.75, truth, rng.integers(0, 3, 40)) for _ in range(5)], axis=1
    )
    table, _ = inter_rater.aggregate_raters(labels)
    expected = inter_rater.fleiss_kappa(table)
    assert fleiss_kappa(labels) == pytest.approx(expected, abs=1e-12)
    assert fleiss_kappa(table, table=True) == pytest.approx(expected, abs=1e-12)
    assert fleiss_kappa(np.array(["x", "y"])[labels % 2]) == pytest.approx(
        inter_rater.fleiss_kappa(inter_rater.aggregate_raters(labels % 2)[0]), abs=1e-12
    )


def test_fleiss_kappa_textbook_value():
    # Fleiss (1971) table, as used in the Wikipedia worked example: kappa = 0.210
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    assert round(fleiss_kappa(table, table=True), 3) == 0.210


def test_cochrans_q_matches_closed_form():
    rng = np.random.default_rng(5)
    x = (rng.random((50, 4)) < np.array([0.6, 0.7, 0.8, 0.65])).astype(int)
    k = x.shape[1]
    col, row = x.sum(0), x.sum(1)
    q = (k - 1) * (k * np.sum(col**2) - col.sum() ** 2) / (k * row.sum() - np.sum(row**2))
    res = cochrans_q(x)
    assert res.q == pytest.approx(q, rel=1e-12)
    assert res.df == k - 1
    assert res.p == pytest.approx(sps.chi2.sf(q, k - 1), rel=1e-10)


def test_mcnemar_exact_when_few_discordant_and_chi2_otherwise():
    a = np.array([1] * 20 + [1] * 6 + [0] * 1 + [0] * 3, bool)
    b = np.array([1] * 20 + [0] * 6 + [1] * 1 + [0] * 3, bool)
    stat, p = mcnemar(a, b)
    assert stat == 1 and p == pytest.approx(sps.binomtest(1, 7).pvalue)
    rng = np.random.default_rng(0)
    a = rng.random(300) < 0.8
    b = rng.random(300) < 0.7
    n01, n10 = np.sum(a & ~b), np.sum(~a & b)
    stat, p = mcnemar(a, b)
    assert stat == pytest.approx((abs(n01 - n10) - 1) ** 2 / (n01 + n10))
    assert p == pytest.approx(sps.chi2.sf(stat, 1))
    assert mcnemar([1, 0], [1, 0]) == (0.0, 1.0)
