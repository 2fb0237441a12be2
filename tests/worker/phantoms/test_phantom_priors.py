"""The clinical/location samplers follow SCIENCE.md's priors table and seed 003's Table 1.

Statistical checks on a few hundred draws, without rendering images; tolerances are
wide enough that a correct sampler fails with negligible probability.
"""

import numpy as np
import pytest

from inference_worker.phantoms import bone_xray, spine_xray
from inference_worker.phantoms.sacral_priors import sample_presentation
from inference_worker.vocabulary import SACRAL_CLASSES

N = 300


def draws(diagnosis, n=N, seed=0):
    rng = np.random.default_rng(seed)
    return [sample_presentation(rng, diagnosis) for _ in range(n)]


@pytest.mark.parametrize(
    "diagnosis, lo, hi",
    [
        ("chordoma", 50, 66),
        ("giant_cell_tumour", 25, 37),
        ("chondrosarcoma", 44, 56),
        ("neurogenic_tumour", 35, 47),
        ("metastasis", 58, 70),
    ],
)
def test_mean_age_by_class(diagnosis, lo, hi):
    ages = [d["age"] for d in draws(diagnosis)]
    assert lo <= np.mean(ages) <= hi


def test_osteosarcoma_age_is_bimodal():
    ages = np.array([d["age"] for d in draws("osteosarcoma")])
    assert 0.35 < np.mean(ages < 35) < 0.75
    assert 0.25 < np.mean(ages > 40) < 0.65
    assert np.mean((ages > 36) & (ages < 40)) < 0.05


def test_sex_ratios():
    male = {c: np.mean([d["sex"] == "M" for d in draws(c)]) for c in SACRAL_CLASSES}
    assert male["chordoma"] > 0.55  # about 2:1
    assert male["giant_cell_tumour"] < 0.48  # F > M
    assert male["chondrosarcoma"] > 0.52
    assert 0.38 < male["metastasis"] < 0.62


def test_locations():
    lower = {c: np.mean([d["zone"] == "lower" for d in draws(c)]) for c in SACRAL_CLASSES}
    assert lower["chordoma"] > 0.65  # mostly S3 and below
    assert lower["giant_cell_tumour"] < 0.3  # mostly S1-S2
    assert lower["metastasis"] < 0.4
    chordoma = draws("chordoma")
    assert np.mean([d["position"] == "midline" for d in chordoma]) > 0.7
    chondro = draws("chondrosarcoma")
    assert np.mean([d["position"] in ("sacroiliac", "eccentric") for d in chondro]) > 0.7
    neuro = draws("neurogenic_tumour")
    assert np.mean([d["position"] == "foraminal" for d in neuro]) > 0.55


def test_no_single_feature_separates_classes():
    """Sizes and levels overlap: every class shows up at S1-S2 and at S3 or below."""
    for c in SACRAL_CLASSES:
        d = draws(c)
        zones = {x["zone"] for x in d}
        assert zones == {"upper", "lower"}, c
        radii = [x["radius_mm"] for x in d]
        assert min(radii) < 25 < max(radii), c


def test_uniform_diagnosis_when_none():
    rng = np.random.default_rng(1)
    counts = {c: 0 for c in SACRAL_CLASSES}
    for _ in range(600):
        counts[sample_presentation(rng)["diagnosis"]] += 1
    assert min(counts.values()) > 60


def test_bad_diagnosis_is_rejected():
    with pytest.raises(ValueError):
        sample_presentation(np.random.default_rng(0), "osteomyelitis")


def test_infection_older_and_more_axial_than_tumour():
    rng = np.random.default_rng(3)
    tumour = [bone_xray.sample_clinical(rng, bone_xray.pick_diagnosis(rng, "tumour")) for _ in range(400)]
    infection = [
        bone_xray.sample_clinical(rng, bone_xray.pick_diagnosis(rng, "infection")) for _ in range(400)
    ]
    age_t = np.mean([c["age"] for c in tumour])
    age_i = np.mean([c["age"] for c in infection])
    assert 19 < age_t < 31  # Table 1: 24.9
    assert 40 < age_i < 52  # Table 1: 45.7
    axial_t = np.mean([c["site_group"] == "axial" for c in tumour])
    axial_i = np.mean([c["site_group"] == "axial" for c in infection])
    assert axial_t < 0.2 and 0.5 < axial_i < 0.7  # 14% vs 60%
    # Missingness: infection patients lack pain/swelling/trauma about a third of the time.
    assert 0.22 < np.mean([c["pain"] is None for c in infection]) < 0.4
    assert np.mean([c["pain"] is None for c in tumour]) == 0
    assert np.mean([c["alp"] is None for c in tumour]) > 0.5
    crp_abnormal_i = np.mean([c["crp"] is not None and c["crp"] > 10 for c in infection])
    crp_abnormal_t = np.mean([c["crp"] is not None and c["crp"] > 10 for c in tumour])
    assert crp_abnormal_i > crp_abnormal_t


def test_spine_priors():
    rng = np.random.default_rng(5)
    met = [spine_xray.sample_clinical(rng, "metastasis") for _ in range(300)]
    frac = [spine_xray.sample_clinical(rng, "osteoporotic_fracture") for _ in range(300)]
    assert np.mean([c["age"] for c in frac]) > np.mean([c["age"] for c in met])
    assert np.mean([c["sex"] == "F" for c in frac]) > 0.6
    findings = [spine_xray.sample_findings(rng, "osteoporotic_fracture") for _ in range(200)]
    assert not any(f["winking_pedicle"] for f in findings)
    mets = [spine_xray.sample_findings(rng, "metastasis") for _ in range(200)]
    assert 0.55 < np.mean([f["winking_pedicle"] for f in mets]) < 0.85
