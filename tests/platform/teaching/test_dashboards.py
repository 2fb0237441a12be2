"""Dashboard statistics on small read sets worked out by hand, and against statsmodels.

Reading the tables as a radiologist would: a 10-case radiograph quiz (tumour vs
infection, infection positive), a 3-reader cohort on 6 cases, an 8-case assisted study.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from statsmodels.stats import contingency_tables, inter_rater, proportion

from accounts.models import Role, Seniority
from inference_worker.evaluation import stats
from teaching import dashboards, services
from teaching.models import Read, TeachingSet
from tests.conftest import make_user
from tests.platform.teaching.helpers import committed_read, held_out_case

pytestmark = pytest.mark.django_db
Z = 1.959963984540054


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    denom = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(7, 10), (0, 5), (5, 5), (3, 4)])
def test_wilson_cells(k, n):
    cell = dashboards.proportion(k, n)
    lo, hi = wilson_by_hand(k, n)
    sm_lo, sm_hi = proportion.proportion_confint(k, n, method="wilson")
    assert cell["value"] == round(k / n, 3)
    assert cell["low"] == pytest.approx(lo, abs=5e-4) == pytest.approx(sm_lo, abs=5e-4)
    assert cell["high"] == pytest.approx(hi, abs=5e-4) == pytest.approx(sm_hi, abs=5e-4)
    assert dashboards.proportion(0, 0)["value"] is None


# --- one resident -----------------------------------------------------------------------------
# truth:  T T T T T I I I I I     diagnoses: osteosarcoma x3, enchondroma x2, TB x3, osteomyelitis x2
# reader: T T T T I I I I T T     -> 7/10 right
# model:  T T T T T I I I I T     scores for "infection" below -> AUC 23/25
QUIZ = [
    ("osteosarcoma", "tumour", "tumour", 0.10),
    ("osteosarcoma", "tumour", "tumour", 0.20),
    ("osteosarcoma", "tumour", "tumour", 0.30),
    ("enchondroma", "tumour", "tumour", 0.40),
    ("enchondroma", "infection", "tumour", 0.45),
    ("tuberculosis", "infection", "infection", 0.90),
    ("tuberculosis", "infection", "infection", 0.80),
    ("tuberculosis", "infection", "infection", 0.70),
    ("osteomyelitis", "tumour", "infection", 0.60),
    ("osteomyelitis", "tumour", "tumour", 0.35),
]


@pytest.fixture
def quiz_reads(rita):
    reads = []
    for i, (diagnosis, call, model, score) in enumerate(QUIZ):
        case = held_out_case(task="bone-xray", diagnosis=diagnosis)
        reads.append(committed_read(rita, case, call, model_class=model, model_score=score, minute=i))
    return list(Read.objects.filter(reader=rita).select_related("case", "reader").order_by("committed_at"))


def test_resident_summary_by_hand(quiz_reads):
    summary = dashboards.resident_summary(quiz_reads)
    block = summary["tasks"][0]
    assert block["task"] == "bone-xray" and block["n"] == 10
    assert (block["accuracy"]["k"], block["accuracy"]["n"]) == (7, 10)
    assert block["accuracy"]["low"] == pytest.approx(wilson_by_hand(7, 10)[0], abs=5e-4)
    assert (block["model_accuracy"]["k"], block["model_accuracy"]["n"]) == (9, 10)
    classes = {row["class"]: row for row in block["classes"]}
    assert (classes["infection"]["sensitivity"]["k"], classes["infection"]["sensitivity"]["n"]) == (3, 5)
    assert (classes["infection"]["specificity"]["k"], classes["infection"]["specificity"]["n"]) == (4, 5)
    assert (classes["tumour"]["sensitivity"]["k"], classes["tumour"]["specificity"]["k"]) == (4, 3)
    # Cohen vs histology: table [[4, 1], [2, 3]]; po = .7, pe = (6*5 + 4*5)/100 = .5 -> 0.4.
    assert block["kappa_histology"]["value"] == pytest.approx(0.4)
    # vs the model: agreement 8/10; both call T 6 times -> pe = (36 + 16)/100 = .52 -> 0.28/0.48.
    assert block["kappa_model"]["value"] == pytest.approx(0.28 / 0.48, abs=5e-4)
    calls = [r.diagnosis for r in quiz_reads]
    assert block["kappa_model"]["value"] == pytest.approx(
        cohen_kappa_score(calls, [r.model_class for r in quiz_reads]), abs=5e-4
    )
    table = np.array([[4, 1], [2, 3]])
    sm = inter_rater.cohens_kappa(table)
    assert block["kappa_histology"]["low"] == pytest.approx(sm.kappa - Z * sm.std_kappa, abs=5e-4)
    # Binary (infection positive): TP 3, FN 2, FP 1, TN 4.
    assert block["binary"]["sensitivity"]["value"] == 0.6
    assert block["binary"]["specificity"]["value"] == 0.8
    assert block["binary"]["ppv"]["value"] == 0.75
    assert block["binary"]["f1"] == pytest.approx(2 * 3 / (6 + 1 + 2), abs=5e-4)
    assert block["mean_seconds"] == 30.0


def test_weakest_diagnoses_and_learning_curve(quiz_reads):
    weakest = dashboards.weakest_diagnoses(quiz_reads)
    assert [(w["diagnosis"], w["k"], w["n"]) for w in weakest] == [
        ("osteomyelitis", 0, 2),
        ("enchondroma", 1, 2),
        ("osteosarcoma", 3, 3),
        ("tuberculosis", 3, 3),
    ]
    curve = dashboards.learning_curve(quiz_reads, window=3)
    assert [row["correct"] for row in curve] == [1, 1, 1, 1, 0, 1, 1, 1, 0, 0]
    assert curve[4]["cumulative_accuracy"] == 0.8
    assert curve[4]["rolling_accuracy"] == pytest.approx(0.667, abs=1e-3)  # 1, 1, 0
    assert curve[9]["cumulative_accuracy"] == 0.7
    assert curve[9]["rolling_accuracy"] == pytest.approx(0.333, abs=1e-3)  # 1, 0, 0


def test_roc_operating_point(quiz_reads):
    points = dashboards.roc_points(quiz_reads)
    # Positives .9 .8 .7 .6 .35 vs negatives .1 .2 .3 .4 .45: 20 + 3 of 25 pairs.
    assert points["auc"] == pytest.approx(23 / 25)
    y = [r.truth_class == "infection" for r in quiz_reads]
    s = [r.model_score for r in quiz_reads]
    assert points["auc"] == pytest.approx(roc_auc_score(y, s))
    assert points["auc_low"] == pytest.approx(stats.auc_delong(y, s).ci_low, abs=5e-4)
    assert (points["reader_fpr"], points["reader_tpr"]) == (0.2, 0.6)
    assert (points["model_fpr"], points["model_tpr"]) == (0.0, 0.8)


def test_dashboard_pages_and_csv(client_for, rita, quiz_reads):
    c = client_for(rita)
    page = c.get("/teaching/me/")
    assert page.status_code == 200
    assert "0.70 (0.40–0.89) [7/10]" in page.content.decode()
    csv_text = c.get(f"/teaching/residents/{rita.pk}/classes.csv").content.decode()
    header, *rows = csv_text.strip().splitlines()
    assert header.startswith("task,class,sensitivity_k,sensitivity_n,sensitivity_value")
    assert rows[1].startswith("bone-xray,infection,3,5,0.6,")
    for figure in ("learning.png", "roc/bone-xray.png"):
        png = c.get(f"/teaching/residents/{rita.pk}/{figure}")
        assert png["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"


# --- a cohort ---------------------------------------------------------------------------------
# truth: T T T I I I
# rita (junior): T I T I T I    sam (senior): T T T I I T    mia (middle): T T I I I I
# model:         T T T I I I    (always right)
COHORT_TRUTH = [
    "osteosarcoma",
    "enchondroma",
    "osteochondroma",
    "tuberculosis",
    "osteomyelitis",
    "tuberculosis",
]
CALLS = {
    "rita": ["tumour", "infection", "tumour", "infection", "tumour", "infection"],
    "sam": ["tumour", "tumour", "tumour", "infection", "infection", "tumour"],
    "mia": ["tumour", "tumour", "infection", "infection", "infection", "infection"],
}
MODEL = ["tumour", "tumour", "tumour", "infection", "infection", "infection"]


@pytest.fixture
def cohort_reads(rita, sam):
    mia = make_user("mia", Role.RESIDENT, Seniority.MIDDLE)
    users = {"rita": rita, "sam": sam, "mia": mia}
    cases = [held_out_case(task="bone-xray", diagnosis=d) for d in COHORT_TRUTH]
    for name, calls in CALLS.items():
        for case, call, model in zip(cases, calls, MODEL, strict=True):
            committed_read(
                users[name], case, call, model_class=model, model_score=0.9 if model == "infection" else 0.1
            )
    return list(Read.objects.select_related("case", "reader"))


def test_cohort_agreement_by_hand(cohort_reads):
    tables = dashboards.cohort_tables(cohort_reads)
    # Count table (T, I) per case: (3,0) (2,1) (2,1) (0,3) (1,2) (1,2): P-bar = 10/18, Pe = .5 -> 1/9.
    assert tables["fleiss_all"]["value"] == pytest.approx(1 / 9, abs=5e-4)
    counts = np.array([[3, 0], [2, 1], [2, 1], [0, 3], [1, 2], [1, 2]])
    assert tables["fleiss_all"]["value"] == pytest.approx(inter_rater.fleiss_kappa(counts), abs=5e-4)
    # Cochran's Q, 3 readers + model: C = 4, 5, 5, 6 (N = 20), R = 4 3 3 4 3 3 (sum R^2 = 68):
    # Q = 3 (4 * 102 - 400) / (80 - 68) = 2.0, df 3.
    assert tables["cochran_all"]["q"] == pytest.approx(2.0)
    assert tables["cochran_all"]["df"] == 3
    assert tables["cochran_all"]["p"] == pytest.approx(sps.chi2.sf(2.0, 3), abs=1e-4)
    correct = np.array(
        [[int(c == t) for c, t in zip(CALLS[n], MODEL, strict=True)] for n in ("mia", "rita", "sam")]
        + [[1] * 6]
    ).T
    assert tables["cochran_all"]["q"] == pytest.approx(contingency_tables.cochrans_q(correct).statistic)


def test_cohort_tables_by_seniority(cohort_reads):
    tables = dashboards.cohort_tables(cohort_reads)
    perf = {row["group"]: row for row in tables["performance"]}
    assert set(perf) == {"junior", "middle", "senior", "model"}
    junior = perf["junior"]
    # rita, infection positive: TP 2 (c4, c6), FN 1 (c5), FP 1 (c2), TN 2.
    assert (junior["sensitivity"]["k"], junior["sensitivity"]["n"]) == (2, 3)
    assert (junior["specificity"]["k"], junior["specificity"]["n"]) == (2, 3)
    # rita + model: C = 4, 6; R = 2 1 2 2 1 2 -> Q = (2 * 52 - 100) / (20 - 18) = 2.0.
    assert junior["cochran_vs_model"]["q"] == pytest.approx(2.0)
    assert perf["model"]["accuracy"]["value"] == 1.0
    assert perf["model"]["reads"] == 6  # one per case, not one per reader
    by_reader = {row["reader"]: row for row in tables["per_reader"]}
    # rita vs model: discordant 2 (rita wrong, model right) vs 0 -> exact binomial P = 0.5.
    assert by_reader["rita"]["mcnemar_p"] == pytest.approx(0.5)
    sm = contingency_tables.mcnemar(np.array([[4, 0], [2, 0]]), exact=True)
    assert by_reader["rita"]["mcnemar_p"] == pytest.approx(sm.pvalue)
    assert by_reader["sam"]["kappa_model"]["value"] == pytest.approx(
        cohen_kappa_score(CALLS["sam"], MODEL), abs=5e-4
    )
    per_dx = {row["diagnosis"]: row for row in tables["per_diagnosis"]}
    assert per_dx["tuberculosis"]["junior"]["k"] == 2 and per_dx["tuberculosis"]["senior"]["k"] == 1


def test_cohort_page_and_csv(client_for, alice, cohort_reads):
    c = client_for(alice)
    html = c.get("/teaching/cohort/").content.decode()
    assert "junior residents" in html and "0.11" in html  # Fleiss 1/9
    csv_text = c.get("/teaching/cohort/per_reader.csv").content.decode()
    assert csv_text.splitlines()[0].startswith("reader,seniority,reads,accuracy_k")
    assert len(csv_text.strip().splitlines()) == 4


# --- assisted-reading study --------------------------------------------------------------------
# Cases 1-4 infection (positive), 5-8 tumour. Ratings 1..8 (call + certainty).
UNAIDED = [("infection", "probable"), ("tumour", "possible"), ("infection", "possible"), ("tumour", "probable"),
           ("tumour", "certain"), ("infection", "possible"), ("tumour", "probable"), ("tumour", "possible")]  # fmt: skip
AIDED = [("infection", "certain"), ("infection", "possible"), ("infection", "probable"), ("tumour", "possible"),
         ("tumour", "certain"), ("tumour", "possible"), ("tumour", "probable"), ("tumour", "almost_certain")]  # fmt: skip


def test_assisted_study_by_hand(alice, rita, client_for):
    for d in ["tuberculosis"] * 4 + ["osteosarcoma"] * 4:
        held_out_case(task="bone-xray", diagnosis=d)
    study, _ = services.create_set(
        created_by=alice, title="Study", task="bone-xray", mode=TeachingSet.Mode.ASSISTED
    )
    items = list(study.items.order_by("position"))
    for item, (cu, ku), (ca, ka) in zip(items, UNAIDED, AIDED, strict=True):
        committed_read(rita, item.case, cu, certainty=ku, kind="unaided", item=item)
        committed_read(rita, item.case, ca, certainty=ka, kind="aided", item=item)
    reads = list(Read.objects.filter(item__teaching_set=study).select_related("case", "reader"))
    tables = dashboards.study_tables(reads)
    row = tables["readers"][0]
    # Unaided ratings: positives 6 4 5 3, negatives 1 5 3 4 -> (4 + 2.5 + 3.5 + 1.5) / 16.
    assert row["auc_unaided"]["value"] == pytest.approx(11.5 / 16, abs=5e-4)
    # Aided: positives 8 5 6 4, negatives 1 4 3 2 -> (4 + 4 + 4 + 3.5) / 16.
    assert row["auc_aided"]["value"] == pytest.approx(15.5 / 16, abs=5e-4)
    assert row["auc_change"] == pytest.approx(0.25)
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    s_u, s_a = [6, 4, 5, 3, 1, 5, 3, 4], [8, 5, 6, 4, 1, 4, 3, 2]
    assert row["auc_unaided"]["value"] == pytest.approx(roc_auc_score(y, s_u), abs=5e-4)
    assert row["delong_p"] == pytest.approx(stats.delong_test(y, s_a, s_u).p, abs=1e-4)
    # Accuracy 5/8 -> 7/8; discordant pairs 2 (cases 2 and 6 fixed) vs 0: exact P = 0.5.
    assert (row["accuracy_unaided"]["k"], row["accuracy_aided"]["k"]) == (5, 7)
    assert row["mcnemar_p"] == pytest.approx(0.5)
    assert (row["sensitivity_unaided"]["value"], row["sensitivity_aided"]["value"]) == (0.5, 0.75)
    assert (row["specificity_unaided"]["value"], row["specificity_aided"]["value"]) == (0.75, 1.0)
    assert row["changed_calls"] == 2
    assert tables["groups"][0]["seniority"] == "junior" and tables["groups"][0]["cases"] == 8
    c = client_for(alice)
    assert c.get(f"/teaching/sets/{study.public_id}/study/").status_code == 200
    assert c.get(f"/teaching/sets/{study.public_id}/study/?format=png").content[:4] == b"\x89PNG"
    csv_text = c.get(f"/teaching/sets/{study.public_id}/study/?format=csv").content.decode()
    assert "auc_unaided_value" in csv_text.splitlines()[0]
