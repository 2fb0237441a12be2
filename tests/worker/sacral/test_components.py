"""Sacral building blocks: calibration, reader stacker, crop, resampling, domain checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference_worker.io.ct import CTVolume
from inference_worker.sacral import domain
from inference_worker.sacral.artefacts import map_crop_to_grid
from inference_worker.sacral.calibration import fit_temperature, softmax
from inference_worker.sacral.crop import crop_geometry, tumour_crop
from inference_worker.sacral.malignancy import apply_stacker, fit_stacker, validate_reader
from inference_worker.sacral.reader_simulation import simulate_reader
from inference_worker.sacral.segmentation import (
    DEFAULT_CONFIG,
    build_segmenter,
    resample_probabilities,
    segment,
)


def test_temperature_scaling_recovers_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, (4000, 6))
    cumulative = softmax(true_logits).cumsum(1)
    y = (rng.random((4000, 1)) > cumulative).sum(1)
    t = fit_temperature(true_logits * 3.0, y)  # a model 3x too confident
    assert 2.6 < t < 3.4
    assert np.array_equal(softmax(true_logits * 3, t).argmax(1), true_logits.argmax(1))  # ranking kept


def test_stacker_uses_an_informative_reader():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    model_p = np.clip(0.5 + (y - 0.5) * 0.2 + rng.normal(0, 0.25, 400), 0.01, 0.99)  # weak model
    readers = [simulate_reader({"look": {"lytic": 0.9 if m else 0.1}}, bool(m), rng) for m in y]
    stacker = fit_stacker(model_p, readers, y)
    combined = apply_stacker(stacker, model_p, readers)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, combined) > roc_auc_score(y, model_p) + 0.05
    assert stacker["coef"][1] > 0  # more suspicion -> more malignant


@pytest.mark.parametrize("bad", [{}, {"suspicion": 0}, {"suspicion": 3, "signs": {"halo": True}}, "x"])
def test_reader_validation(bad):
    with pytest.raises(ValueError):
        validate_reader(bad)


def test_reader_defaults_missing_signs_to_false():
    assert validate_reader({"suspicion": 2})["signs"]["sclerotic_rim"] is False


def _sphere(shape, centre, radius):
    idx = np.indices(shape).transpose(1, 2, 3, 0)
    return np.linalg.norm(idx - np.array(centre), axis=-1) <= radius


def test_crop_is_centred_on_the_tumour_and_scales_with_it():
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    mask = _sphere((60, 60, 40), (30, 25, 20), 8)
    hu = np.where(mask, 900.0, 0.0).astype(np.float32)
    crop = tumour_crop(hu, mask, affine, 24)
    assert crop.shape == (2, 24, 24, 24)
    centre = np.array(np.nonzero(crop[1] > 0.5)).mean(1)
    np.testing.assert_allclose(centre, [11.5] * 3, atol=0.6)
    assert crop[0].max() <= 1 and crop[0].min() >= 0
    _, side = crop_geometry(_sphere((60, 60, 40), (30, 25, 20), 16), affine)
    _, small = crop_geometry(mask, affine)
    assert side > small


def test_heat_map_returns_to_the_right_place():
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    affine[:3, 3] = [-50, 10, 5]
    cam = np.zeros((16, 16, 16), np.float32)
    cam[8, 8, 8] = 1.0  # a point just past the crop centre
    centre = np.array([10.0, 50.0, 65.0])
    heat = map_crop_to_grid(cam, centre, 32.0, (60, 60, 40), affine)
    peak = np.array(np.unravel_index(heat.argmax(), heat.shape))
    world = affine[:3, :3] @ peak + affine[:3, 3]
    expected = centre + (8 - 7.5) * 2.0
    assert np.linalg.norm(world - expected) <= 2.0


def test_probabilities_resampled_between_grids():
    probs = torch.zeros((5, 20, 20, 10))
    probs[0] = 1
    probs[:, 5:10, 5:15, 2:6] = 0
    probs[3, 5:10, 5:15, 2:6] = 1
    coarse = np.diag([3.0, 3.0, 3.0, 1.0])
    fine = np.diag([1.0, 1.0, 1.5, 1.0])
    labels = resample_probabilities(probs, coarse, (60, 60, 20), fine)
    idx = np.argwhere(labels == 3)
    # coarse voxels 5..9 -> mm 15..27 (+-1.5 at the half-way boundary)
    assert 13 <= idx[:, 0].min() <= 17 and 26 <= idx[:, 0].max() <= 29
    assert set(np.unique(labels)) == {0, 3}


@pytest.mark.parametrize(("card_spacing", "expected"), [([4.0, 4.0, 4.0], 4.0), (None, 3.0)])
def test_segmenter_runs_on_the_grid_its_card_names(card_spacing, expected):
    # A 4 mm segmenter fed a 3 mm grid would see every structure a third too large.
    config = {**DEFAULT_CONFIG, "roi": [16, 16, 16]}
    config.pop("spacing")
    if card_spacing is not None:
        config["spacing"] = card_spacing
    net = build_segmenter({**config, "channels": [4, 8], "strides": [2]}).eval()
    hu = np.zeros((48, 48, 24), np.float32)
    out = segment(net, hu, np.diag([2.0, 2.0, 3.0, 1.0]), config, "cpu")
    assert np.allclose(np.diag(out["coarse_affine"])[:3], expected)
    assert out["labels"].shape == hu.shape


def test_short_scan_and_missing_bones_are_out_of_domain():
    ct = CTVolume(
        hu=np.full((50, 50, 10), -1000.0, np.float32), affine=np.diag([1, 1, 3.0, 1]), source="nifti"
    )
    ct.hu[20:30, 20:30] = 500
    reasons = domain.input_checks(ct, None)
    assert any("cranio-caudally" in r for r in reasons)
    volumes = {k: {"volume_ml": 0.0, "voxels": 0} for k in ("tumour", "left_hip", "right_hip", "sacrum")}
    reasons = domain.segmentation_checks(volumes, 0.9)
    assert len(reasons) == 4


def test_hu_unlike_training_is_flagged():
    hu = np.full((40, 40, 60), -1000.0, np.float32)
    hu[5:35, 5:35] = 1500.0  # a metal block, not a body
    ct = CTVolume(hu=hu, affine=np.diag([3.0, 3, 3, 1]), source="nifti")
    reference = {"p10_p50_p90_mean": [-100, 40, 300], "p10_p50_p90_sd": [20, 10, 60]}
    assert any("HU distribution" in r for r in domain.input_checks(ct, reference))


def test_stacker_with_one_class_passes_the_model_through():
    readers = [{"suspicion": 3}] * 4
    stacker = fit_stacker(np.array([0.2, 0.4, 0.6, 0.8]), readers, [1, 1, 1, 1])
    np.testing.assert_allclose(
        apply_stacker(stacker, np.array([0.2, 0.8]), readers[:2]), [0.2, 0.8], atol=1e-6
    )


def _pelvis_labels_with_false_blob():
    """A sacrum block, a small tumour touching it and a larger 'tumour' blob in front of it."""
    labels = np.zeros((40, 40, 30), np.int64)
    labels[15:25, 25:35, 5:25] = 4  # sacrum
    labels[2:8, 20:30, 5:25] = 2  # left hip
    labels[32:38, 20:30, 5:25] = 3  # right hip
    labels[32:33, 5:6, 2:3] = 3  # a stray right-hip speck, away from the bone
    labels[17:23, 21:25, 10:16] = 1  # true tumour: 144 voxels against the sacrum's front
    labels[14:26, 4:12, 8:20] = 1  # presacral false blob: 1152 voxels, 9 voxels in front
    return labels


def test_tumour_component_touching_the_sacrum_is_kept_over_a_larger_false_blob():
    from inference_worker.sacral.segmentation import keep_components, keep_largest

    labels = torch.as_tensor(_pelvis_labels_with_false_blob())[None]
    kept = keep_components(labels)[0].numpy()
    tumour = kept == 1
    assert tumour.sum() == 144 and tumour[17:23, 21:25, 10:16].all()
    assert not tumour[14:26, 4:12, 8:20].any()
    # Bones still keep their largest component.
    assert (kept == 3).sum() == 6 * 10 * 20 and kept[32, 5, 2] == 0
    assert (kept == 4).sum() == 10 * 10 * 20 and (kept == 2).sum() == 6 * 10 * 20
    # The paper's largest-component rule keeps the false blob: the case this rule fixes.
    assert (keep_largest(labels)[0].numpy() == 1)[14:26, 4:12, 8:20].all()


def test_tumour_falls_back_to_the_largest_component_without_sacral_contact():
    from inference_worker.sacral.segmentation import keep_components

    labels = _pelvis_labels_with_false_blob()
    labels[17:23, 21:25, 10:16] = 0
    labels[17:20, 15:17, 10:12] = 1  # a small blob not touching the sacrum either
    kept = keep_components(torch.as_tensor(labels)[None])[0].numpy()
    assert (kept == 1).sum() == 1152
    labels[labels == 4] = 0  # no sacrum predicted at all: largest again
    kept = keep_components(torch.as_tensor(labels)[None])[0].numpy()
    assert (kept == 1).sum() == 1152


def test_segment_drops_a_larger_tumour_blob_away_from_the_sacrum(monkeypatch):
    from inference_worker.sacral import segmentation as seg_mod

    labels = _pelvis_labels_with_false_blob()
    probs = torch.nn.functional.one_hot(torch.as_tensor(labels), 5).permute(3, 0, 1, 2).float()
    monkeypatch.setattr(seg_mod, "predict_probabilities", lambda *a, **k: probs)
    monkeypatch.setattr(seg_mod, "prepare_image", lambda hu, affine, spacing: _metatensor(labels.shape))
    config = {**DEFAULT_CONFIG, "roi": [16, 16, 16], "spacing": [4.0, 4.0, 4.0]}
    out = seg_mod.segment(None, np.zeros((80, 80, 60), np.float32), np.diag([2.0, 2, 2, 1]), config, "cpu")
    assert (out["coarse_labels"] == 1).sum() == 144
    fine = out["labels"] == 1
    # The fine-grid tumour sits where the true tumour is (coarse x 17..22 -> fine 34..45), not the blob.
    assert fine.any() and not fine[:, 8:24].any()
    assert 30 <= np.argwhere(fine)[:, 0].min() and np.argwhere(fine)[:, 0].max() <= 48


def _metatensor(shape):
    from monai.data import MetaTensor

    return MetaTensor(torch.zeros((1, *shape)), affine=torch.as_tensor(np.diag([4.0, 4, 4, 1])))


def test_largest_touching_component_beats_a_fragment_with_more_sacral_contact():
    from inference_worker.sacral.segmentation import sacral_tumour_component

    sacrum = np.zeros((40, 40, 30), bool)
    sacrum[10:30, 20:35, 5:25] = True
    tumour = np.zeros_like(sacrum)
    tumour[15:19, 24:28, 10:14] = True  # 64-voxel fragment inside the sacrum: all contact
    sacrum[15:19, 24:28, 10:14] = False
    tumour[12:28, 8:19, 8:22] = True  # the tumour, one voxel in front of the sacrum...
    tumour[18:20, 19, 14:16] = True  # ...touching it through 4 voxels only
    tumour[32:40, 0:15, 0:30] = True  # a blob larger still, two voxels off the sacrum
    kept = sacral_tumour_component(tumour, sacrum)
    assert kept.sum() == 16 * 11 * 14 + 4 and kept[12:28, 8:19, 8:22].all()
