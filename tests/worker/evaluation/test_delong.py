"""DeLong AUC variance and paired test, against pROC's published values and a slow oracle.

Reference numbers: the pROC R package's own test suite on its ``aSAH`` data (Robin et al.
2011, BMC Bioinformatics 12:77; tests/testthat of pROC), as quoted in the stored public
test file of ``opendose.methodcomp``; the data (outcome, wfns, s100b, ndka for the 113
patients) were reconstructed from that same file and are checked here against pROC's
documented counts (72 Good, 41 Poor) and AUCs (s100b 0.7314, ndka 0.6120).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from inference_worker.evaluation.stats import auc_delong, delong_test

DATA = Path(__file__).parent / "data" / "asah.csv"


@pytest.fixture(scope="module")
def asah() -> dict[str, np.ndarray]:
    with DATA.open() as f:
        rows = list(csv.DictReader(f))
    out = {k: np.array([float(r[k]) for r in rows]) for k in ("wfns", "s100b", "ndka")}
    out["poor"] = np.array([r["outcome"] == "Poor" for r in rows])
    return out


def slow_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong 1988 structural components by explicit pairwise comparison, O(m*n)."""
    y = y.astype(bool)

    def psi(a: float, b: float) -> float:
        return 1.0 if a > b else 0.5 if a == b else 0.0

    v10, v01 = [], []
    for s in scores:
        pos, neg = s[y], s[~y]
        v10.append([np.mean([psi(p, q) for q in neg]) for p in pos])
        v01.append([np.mean([psi(p, q) for p in pos]) for q in neg])
    v10, v01 = np.array(v10), np.array(v01)
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return v10.mean(axis=1), cov


def test_reconstructed_data_matches_proc_documentation(asah):
    assert asah["poor"].sum() == 41 and (~asah["poor"]).sum() == 72
    assert round(auc_delong(asah["poor"], asah["s100b"]).auc, 4) == 0.7314
    assert round(auc_delong(asah["poor"], asah["ndka"]).auc, 4) == 0.6120


def test_auc_and_variance_match_proc(asah):
    wfns = auc_delong(asah["poor"], asah["wfns"])
    ndka = auc_delong(asah["poor"], asah["ndka"])
    s100b = auc_delong(asah["poor"], asah["s100b"])
    assert wfns.auc == pytest.approx(0.823678861788618, rel=1e-12)
    assert ndka.auc == pytest.approx(0.611957994579946, rel=1e-12)
    assert wfns.se**2 == pytest.approx(0.00146991470882363, rel=1e-10)
    assert ndka.se**2 == pytest.approx(0.0031908105493913, rel=1e-10)
    assert s100b.se**2 == pytest.approx(0.00266868245717244, rel=1e-10)
    # pROC's ci.auc(method="delong") is the plain normal interval
    assert (ndka.ci_low, ndka.ci_high) == pytest.approx((0.501244999271703, 0.722670989888189), rel=1e-10)


@pytest.mark.parametrize(
    "a,b,z,p",
    [
        ("wfns", "s100b", 2.20898359144091, 0.0271757822291882),
        ("wfns", "ndka", 2.79777591868904, 0.00514557970691098),
        ("ndka", "s100b", -1.39077002573558, 0.164295175223054),
    ],
)
def test_paired_test_matches_proc_roc_test(asah, a, b, z, p):
    res = delong_test(asah["poor"], asah[a], asah[b])
    assert res.z == pytest.approx(z, rel=1e-10)
    assert res.p == pytest.approx(p, rel=1e-10)
    swapped = delong_test(asah["poor"], asah[b], asah[a])
    assert swapped.z == pytest.approx(-z, rel=1e-10) and swapped.p == pytest.approx(p, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_slow_oracle_and_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    y[:2] = [0, 1]
    a = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding makes ties
    b = np.round(0.6 * a + rng.normal(0, 1.0, 60), 1)
    aucs, cov = slow_delong(y, [a, b])
    ra = auc_delong(y, a)
    assert ra.auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert ra.auc == pytest.approx(aucs[0], abs=1e-12)
    assert ra.se == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)
    t = delong_test(y, a, b)
    z = (aucs[0] - aucs[1]) / math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert t.z == pytest.approx(z, rel=1e-10)
    assert t.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)


def test_edge_cases():
    perfect = auc_delong([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect.auc == 1.0 and perfect.ci_high == 1.0 and 0.0 <= perfect.ci_low <= 1.0
    same = delong_test([0, 1, 0, 1], [0.1, 0.9, 0.3, 0.7], [0.1, 0.9, 0.3, 0.7])
    assert (same.z, same.p) == (0.0, 1.0)
    with pytest.raises(ValueError):
        auc_delong([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        auc_delong([0, 1], [0.1, 0.2, 0.3])
