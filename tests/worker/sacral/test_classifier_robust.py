"""Seeded initialisation, probability-averaging ensembles and imperfect-mask views of
the sacral classifiers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference_worker.sacral import classifier as cls_mod
from inference_worker.sacral import malignancy as mal_mod
from inference_worker.sacral import train as train_mod
from inference_worker.sacral.crop import crop_geometry
from inference_worker.sacral.ensemble import MeanProbability
from inference_worker.sacral.features import case_features
from inference_worker.sacral.preprocess import STRUCTURES
from inference_worker.sacral.robust import mirrored, perturb_tumour
from inference_worker.sacral.tabular import LOCATION

CFG = {**cls_mod.DEFAULT_CONFIG, "widths": [4, 8], "embedding": 8, "tabular_columns": ["a", "b"]}
MAL = {**mal_mod.DEFAULT_CONFIG, "init_features": 4, "growth_rate": 2}


def _weights(net):
    return torch.cat([p.detach().flatten() for p in net.state_dict().values() if p.dtype.is_floating_point])


def test_same_seed_same_weights_whatever_the_global_rng():
    torch.manual_seed(1)
    a = cls_mod.build_classifier(CFG, seed=5)
    torch.rand(1000)  # e.g. a segmenter that consumed the global RNG first
    state = torch.get_rng_state()
    b = cls_mod.build_classifier(CFG, seed=5)
    assert torch.equal(torch.get_rng_state(), state)  # the global stream is left alone
    assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(a), _weights(cls_mod.build_classifier(CFG, seed=6)))
    m1, m2 = mal_mod.build_malignancy(MAL, seed=3), mal_mod.build_malignancy(MAL, seed=3)
    assert torch.equal(_weights(m1), _weights(m2))


def test_ensemble_members_differ_and_its_output_is_their_mean_probability():
    net = cls_mod.build_classifier({**CFG, "members": 3}, seed=0).eval()
    assert isinstance(net, MeanProbability) and len(net.members) == 3
    # member i is the single model of seed + 1000 i: an ensemble extends a single model
    assert torch.equal(_weights(net.members[0]), _weights(cls_mod.build_classifier(CFG, seed=0)))
    assert not torch.equal(_weights(net.members[0]), _weights(net.members[1]))
    x, t = torch.rand(4, 2, 32, 32, 32), torch.rand(4, 2)
    with torch.no_grad():
        expected = torch.stack([m(x, t).softmax(-1) for m in net.members]).mean(0)
        got = net(x, t).softmax(-1)
        assert torch.allclose(got, expected, atol=1e-6)
        assert torch.equal(net.embed(x, t), net.members[0].embed(x, t))
    assert cls_mod.cam_layer(net) == f"members.0.{cls_mod.CAM_LAYER}"
    # a card's config rebuilds the same layout, so saved weights load back
    again = cls_mod.build_classifier({**CFG, "members": 3})
    again.load_state_dict(net.state_dict())


def test_single_member_keeps_the_layout_of_earlier_cards():
    net = cls_mod.build_classifier(CFG)
    assert isinstance(net, cls_mod.FusionClassifier)
    assert cls_mod.cam_layer(net) == cls_mod.CAM_LAYER


def _dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_perturbed_tumour_is_a_plausible_segmentation_error(phantom_case):
    hu, labels, affine = phantom_case.hu.astype(np.float32), phantom_case.labels, phantom_case.affine
    tumour_id = STRUCTURES["tumour"]
    true = labels == tumour_id
    hips = (labels == STRUCTURES["left_hip"]) | (labels == STRUCTURES["right_hip"])
    rng = np.random.default_rng(0)
    dices, moved = [], []
    c0, side0 = crop_geometry(true, affine)
    for _ in range(12):
        out = perturb_tumour(labels, affine, rng)
        new = out == tumour_id
        assert new.any()
        assert np.array_equal(out == STRUCTURES["left_hip"], labels == STRUCTURES["left_hip"])
        assert not (new & hips).any()
        assert np.array_equal(out[~true & ~new], labels[~true & ~new])  # nothing else changes
        dices.append(_dice(new, true))
        c, side = crop_geometry(new, affine)
        moved.append(np.linalg.norm(c - c0))
        feats = case_features(hu, out, affine, phantom_case.clinical, 32)
        assert feats["crop"].shape == (2, 32, 32, 32) and feats["crop"][1].max() > 0.5
        assert feats["location"] is not None
    # errors of the size the segmenter makes: neither identical nor unrelated
    assert 0.4 < min(dices) and max(dices) < 1.0
    assert max(moved) > 1.0 and max(moved) < side0
    a = perturb_tumour(labels, affine, np.random.default_rng(3))
    b = perturb_tumour(labels, affine, np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_perturbing_needs_a_tumour(phantom_case):
    labels = np.where(phantom_case.labels == STRUCTURES["tumour"], 0, phantom_case.labels)
    with pytest.raises(ValueError, match="no tumour"):
        perturb_tumour(labels, phantom_case.affine, np.random.default_rng(0))


def _items(n, rng, views=0, predicted=False):
    items = []
    for i in range(n):
        crop = rng.random((2, 32, 32, 32), dtype=np.float32)
        item = {
            "y": i % 6,
            "malignant": i % 2,
            "crop": crop,
            "clinical_raw": [float(rng.normal()), float(i % 2), 1.0],
            "location_raw": [float(v) for v in rng.normal(size=6)],
            "reader": {"suspicion": 3, "signs": {}},
        }
        if views:
            item["views"] = [{**item, "crop": crop * 0.5} for _ in range(views)]
        if predicted:
            item["predicted"] = {**item, "crop": crop * 0.9}
        items.append(item)
    return items


def test_six_class_ensemble_trains_on_views_and_is_reproducible():
    rng = np.random.default_rng(0)
    train, val = _items(12, rng, views=2), _items(6, rng, predicted=True)
    cfg = {**cls_mod.DEFAULT_CONFIG, "widths": [4, 8], "embedding": 8, "members": 2}
    runs = []
    for _ in range(2):
        torch.manual_seed(len(runs))  # a different global state each time must not matter
        net, card, metrics = train_mod.train_six_class(train, val, "fusion", cfg, 1, 0, "cpu")
        runs.append(_weights(net))
    assert isinstance(net, MeanProbability) and len(net.members) == 2
    assert torch.equal(runs[0], runs[1])
    assert card["member_seeds"] == [0, 1000] and card["temperature"] > 0
    assert metrics["validation_inputs"].startswith("6 of 6")


def test_malignancy_ensemble_trains():
    rng = np.random.default_rng(1)
    train, val = _items(8, rng, views=1), _items(4, rng)
    net, card, _ = train_mod.train_malignancy(train, val, {**MAL, "members": 2}, 1, 0, "cpu")
    assert isinstance(net, MeanProbability) and card["members"] == 2 and "stacker" in card


@pytest.fixture(scope="module")
def eccentric_case():
    from inference_worker.phantoms.sacral_ct import generate_case

    for seed in range(4300, 4320):  # the first giant cell tumour off the midline
        case = generate_case(seed, diagnosis="giant_cell_tumour")
        if case.lesion.get("side") in ("left", "right"):
            return case
    raise AssertionError("no eccentric phantom drawn")


def test_mirrored_view_matches_the_mirrored_patient(eccentric_case):
    """Flipping the whole CT left-right (and so which hip is the left one) must give what
    ``mirrored`` makes of the original: the crop flipped on its first axis and the
    hip-frame x negated, nothing else."""
    case = eccentric_case
    hu, labels, affine = case.hu.astype(np.float32), case.labels, case.affine
    assert np.allclose(affine[:3, :3], np.diag(np.diag(affine[:3, :3])))  # voxel axis 0 is RAS x
    original = case_features(hu, labels, affine, case.clinical, 32)
    flipped_labels = labels[::-1].copy()
    left, right = STRUCTURES["left_hip"], STRUCTURES["right_hip"]
    flipped_labels = np.where(
        flipped_labels == left, right, np.where(flipped_labels == right, left, flipped_labels)
    ).astype(labels.dtype)
    flipped = case_features(hu[::-1].copy(), flipped_labels, affine, case.clinical, 32)
    assert abs(original["location_raw"][LOCATION.index("x")]) > 0.03  # a side to swap
    mirror = mirrored(original)
    assert np.abs(mirror["crop"] - flipped["crop"]).max() < 1e-3
    assert not np.allclose(mirror["crop"], original["crop"])
    x = LOCATION.index("x")
    assert mirror["location_raw"][x] == -original["location_raw"][x]
    assert np.allclose(mirror["location_raw"], flipped["location_raw"], atol=0.02)
    assert mirror["clinical_raw"] == original["clinical_raw"]
    twice = mirrored(mirror)
    assert np.array_equal(twice["crop"], original["crop"])
    assert twice["location_raw"] == original["location_raw"]


def test_training_can_reuse_a_segmenter(tiny_models, tiny_cohort, tmp_path):
    import json

    from inference_worker.__main__ import main

    root, _ = tiny_models
    out = tmp_path / "models"
    args = ["train", "sacral-ct", "--data", str(tiny_cohort), "--out", str(out), "--quick"]
    assert main([*args, "--segmenter-from", str(root)]) == 0
    before = json.loads(next(root.glob("sacral-ct/segmenter/*/card.json")).read_text())
    after = json.loads(next(out.glob("sacral-ct/segmenter/*/card.json")).read_text())
    assert after["config"] == before["config"]
    assert after["metrics"]["reused_from"].endswith(f"(sha256 {before['sha256'][:12]})")
    old = torch.load(next(root.glob("sacral-ct/segmenter/*/weights.pt")), weights_only=False)["state_dict"]
    new = torch.load(next(out.glob("sacral-ct/segmenter/*/weights.pt")), weights_only=False)["state_dict"]
    assert all(torch.equal(old[k], new[k]) for k in old)
    # Its fine tumour stage comes with it (trained on top of that segmenter), unchanged.
    fine_before = json.loads(next(root.glob("sacral-ct/segmenter-fine/*/card.json")).read_text())
    fine_after = json.loads(next(out.glob("sacral-ct/segmenter-fine/*/card.json")).read_text())
    assert fine_after["sha256"] == fine_before["sha256"]
    assert fine_after["metrics"]["reused_from"].endswith(f"(sha256 {fine_before['sha256'][:12]})")
    fusion = json.loads(next(out.glob("sacral-ct/classifier-fusion/*/card.json")).read_text())
    assert fusion["config"]["members"] == 2 and fusion["config"]["mask_views"] == 1


def test_tabular_dropout_of_one_starves_the_tabular_branch():
    """With every tabular row dropped the tabular layer gets no gradient: AdamW only
    shrinks it (decoupled weight decay), so it stays parallel to its initial weights;
    without dropout it learns and turns away from them."""
    rng = np.random.default_rng(2)
    train, val = _items(12, rng), _items(6, rng)
    cfg = {**cls_mod.DEFAULT_CONFIG, "widths": [4, 8], "embedding": 8}
    init = (
        cls_mod.build_classifier(
            {**cfg, "tabular_columns": cls_mod.tabular_columns(("clinical", "location"))}, seed=0
        )
        .tabular[0]
        .weight.detach()
    )

    def cosine(td):
        net, card, _ = train_mod.train_six_class(
            train, val, "fusion", {**cfg, "tabular_dropout": td}, 5, 0, "cpu"
        )
        assert card["tabular_dropout"] == td
        w = net.tabular[0].weight.detach()
        return float((w * init).sum() / (w.norm() * init.norm()))

    assert 1 - cosine(1.0) < 1e-6  # float rounding only
    assert 1 - cosine(0.0) > 1e-4
