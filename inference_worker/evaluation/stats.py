"""Statistics for model and reader evaluation: AUC with DeLong, agreement, paired tests.

Plain functions on numpy arrays returning floats or small named tuples, so results
drop straight into JSON. Where statsmodels already has the statistic we call it; DeLong
and the bootstrap are ours because no installed library offers them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import stats as sps
from statsmodels.stats import contingency_tables, inter_rater, proportion


class AUCResult(NamedTuple):
    auc: float
    se: float
    ci_low: float
    ci_high: float


class DeLongTest(NamedTuple):
    z: float
    p: float
    auc_a: float
    auc_b: float


class KappaResult(NamedTuple):
    kappa: float | None  # None when undefined (both raters used a single category)
    se: float | None
    ci_low: float | None
    ci_high: float | None


class CochranQ(NamedTuple):
    q: float
    df: int
    p: float


class McNemar(NamedTuple):
    statistic: float
    p: float


class Interval(NamedTuple):
    low: float
    high: float


# --- DeLong -----------------------------------------------------------------------------


def _split_binary(y_true: Any, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(bool).ravel()
    if scores.shape[-1] != y.size:
        raise ValueError(f"{y.size} labels but {scores.shape[-1]} scores")
    if y.all() or not y.any():
        raise ValueError("AUC needs at least one positive and one negative case")
    return scores[:, y], scores[:, ~y]


def _delong_components(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and structural components for k score rows (fast DeLong, Sun & Xu 2014).

    Midranks replace the O(m*n) pairwise comparisons: a positive's rank among all cases
    minus its rank among positives counts the negatives it beats (ties count half).
    """
    m, n = pos.shape[1], neg.shape[1]
    both = np.concatenate([pos, neg], axis=1)
    rank_all = sps.rankdata(both, axis=1)  # "average" = midranks, which score ties as 1/2
    rank_pos = sps.rankdata(pos, axis=1)
    rank_neg = sps.rankdata(neg, axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n  # per positive: share of negatives below it
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m  # per negative: share of positives above it
    auc = v10.mean(axis=1)
    return auc, v10, v01


def _delong_covariance(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    auc, v10, v01 = _delong_components(pos, neg)
    m, n = pos.shape[1], neg.shape[1]
    # np.cov with one observation would divide by zero; a single case has no spread.
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(auc), len(auc)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(auc), len(auc)))
    return auc, s10 / m + s01 / n


def auc_delong(y_true: Any, score: Any, alpha: float = 0.05) -> AUCResult:
    """ROC AUC with its DeLong standard error and confidence interval.

    Higher scores mean "positive". The interval is the plain normal one, AUC +/- z*SE,
    clipped to [0, 1] - the same as pROC's ``ci.auc(method="delong")``, so our numbers
    can be checked against it. (A logit interval behaves better near 1 with few cases,
    but would no longer match the published reference output.)
    """
    s = np.asarray(score, dtype=float)[None, :]
    pos, neg = _split_binary(y_true, s)
    auc, cov = _delong_covariance(pos, neg)
    se = math.sqrt(max(float(cov[0, 0]), 0.0))
    z = sps.norm.ppf(1 - alpha / 2)
    a = float(auc[0])
    return AUCResult(a, se, max(0.0, a - z * se), min(1.0, a + z * se))


def delong_test(y_true: Any, score_a: Any, score_b: Any) -> DeLongTest:
    """Two-sided DeLong test that two correlated ROC curves (same cases) have equal AUC."""
    s = np.vstack([np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)])
    pos, neg = _split_binary(y_true, s)
    auc, cov = _delong_covariance(pos, neg)
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = float(auc[0] - auc[1])
    if var <= 1e-15:  # identical rankings: no evidence of a difference
        return DeLongTest(0.0, 1.0, float(auc[0]), float(auc[1]))
    z = diff / math.sqrt(var)
    return DeLongTest(z, float(2 * sps.norm.sf(abs(z))), float(auc[0]), float(auc[1]))


# --- proportions and agreement ------------------------------------------------------------


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> Interval:
    """Wilson score interval; (0, 1) when there are no trials to learn from."""
    if n <= 0:
        return Interval(0.0, 1.0)
    lo, hi = proportion.proportion_confint(successes, n, alpha=alpha, method="wilson")
    return Interval(float(lo), float(hi))


def _codes(*label_sets: Sequence[Any]) -> tuple[np.ndarray, int]:
    """Map arbitrary labels (strings, ints) of several raters onto shared integer codes."""
    flat = np.concatenate([np.asarray(x, dtype=object).ravel() for x in label_sets])
    cats = sorted(set(flat.tolist()), key=str)
    index = {c: i for i, c in enumerate(cats)}
    return np.array([index[v] for v in flat.tolist()]), len(cats)


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], alpha: float = 0.05) -> KappaResult:
    """Cohen's kappa of two raters over the same cases, with statsmodels' asymptotic CI."""
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("both raters must rate the same, non-empty set of cases")
    codes, k = _codes(a, b)
    table = np.zeros((k, k))
    np.add.at(table, (codes[: len(a)], codes[len(a) :]), 1)
    p_chance = float(table.sum(0) @ table.sum(1)) / len(a) ** 2
    if p_chance >= 1.0 - 1e-12:  # one category only: kappa is 0/0
        return KappaResult(None, None, None, None)
    res = inter_rater.cohens_kappa(table)
    kappa, se = float(res.kappa), float(res.std_kappa)
    z = sps.norm.ppf(1 - alpha / 2)
    return KappaResult(kappa, se, kappa - z * se, kappa + z * se)


def fleiss_kappa(ratings: Any, *, table: bool = False) -> float:
    """Fleiss' kappa for several raters.

    ``ratings`` is subjects x raters of labels (any hashable values), or with
    ``table=True`` the subjects x categories count table statsmodels takes directly.
    """
    arr = np.asarray(ratings, dtype=object if not table else float)
    if arr.ndim != 2:
        raise ValueError("ratings must be a 2-D array")
    if not table:
        codes, _ = _codes(arr)
        arr, _ = inter_rater.aggregate_raters(codes.reshape(arr.shape))
    return float(inter_rater.fleiss_kappa(np.asarray(arr, dtype=float), method="fleiss"))


def cochrans_q(binary: Any) -> CochranQ:
    """Cochran's Q: do k raters/models (columns) have the same success rate on the subjects?"""
    x = np.asarray(binary, dtype=int)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError("need a subjects x raters matrix with at least two raters")
    res = contingency_tables.cochrans_q(x)
    return CochranQ(float(res.statistic), int(res.df), float(res.pvalue))


def mcnemar(a_correct: Any, b_correct: Any, exact_below: int = 25) -> McNemar:
    """McNemar's test on paired correctness of two readers/models.

    Exact binomial test when the discordant pairs number fewer than ``exact_below``
    (the chi-square approximation is poor there); otherwise chi-square with continuity
    correction.
    """
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("paired arrays must have the same length")
    table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
    discordant = int(table[0, 1] + table[1, 0])
    if discordant == 0:
        return McNemar(0.0, 1.0)
    exact = discordant < exact_below
    res = contingency_tables.mcnemar(table, exact=exact, correction=True)
    return McNemar(float(res.statistic), float(res.pvalue))


# --- bootstrap ------------------------------------------------------------------------------


def bootstrap_ci(
    fn: Callable[..., float | None],
    *arrays: Any,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    stratify: Any = None,
) -> Interval:
    """Percentile bootstrap CI of ``fn(*arrays)``, resampling cases (rows) together.

    ``stratify`` (labels per case) resamples within each label so every class keeps its
    size: a macro-AUC replicate then never loses a rare class. Replicates where ``fn``
    returns None or NaN (statistic undefined on that resample) are dropped.
    """
    arrs = [np.asarray(a) for a in arrays]
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise ValueError("all arrays must have the same number of cases")
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)]
    if stratify is not None:
        strat = np.asarray(stratify)
        groups = [np.flatnonzero(strat == v) for v in np.unique(strat)]
    values = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        v = fn(*(a[idx] for a in arrs))
        if v is not None and np.isfinite(v):
            values.append(float(v))
    if not values:
        raise ValueError("the statistic was undefined on every bootstrap replicate")
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return Interval(float(lo), float(hi))
