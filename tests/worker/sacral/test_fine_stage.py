"""The fine tumour stage: its box, its paste-back onto the CT grid, training crops, and the
fallback for model folders trained before it existed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from inference_worker.evaluation.metrics import dice_per_structure
from inference_worker.sacral import fine_stage, train_fine
from inference_worker.sacral.models import load_sacral_models
from inference_worker.sacral.preprocess import N_SEG_CLASSES, STRUCTURES, affine_of, prepare_labels
from inference_worker.sacral.segmentation import labels_on_grid

CONFIG = {**fine_stage.DEFAULT_CONFIG, "roi": [32, 32, 32], "spacing": [2.0, 2.0, 2.0], "margin_mm": 12.0}
TUMOUR = STRUCTURES["tumour"]


def _one_hot(labels: np.ndarray) -> torch.Tensor:
    return (
        torch.nn.functional.one_hot(torch.as_tensor(labels.astype(np.int64)), N_SEG_CLASSES)
        .permute(3, 0, 1, 2)
        .float()
    )


def _coarse(labels, affine, spacing=4.0):
    """The truth as a perfect coarse segmenter would give it: its 4 mm grid and its CT-grid labels."""
    grid = prepare_labels(labels, affine, (spacing,) * 3)
    coarse = grid[0].numpy().round().astype(np.uint8)
    return (
        coarse,
        affine_of(grid),
        labels_on_grid(_one_hot(coarse), coarse, affine_of(grid), labels.shape, affine),
    )


def _perfect_fine(labels, affine, box):
    """What a perfect fine network would output in the box: the truth's one-hot on the fine grid."""
    start, stop = fine_stage.index_box(labels.shape, affine, *box)
    sub, sub_affine = fine_stage.crop_volume(labels, affine, start, stop)
    grid = prepare_labels(sub, sub_affine, tuple(CONFIG["spacing"]))
    return _one_hot(grid[0].numpy().round()), affine_of(grid)


def test_box_holds_the_coarse_tumour_and_a_window(phantom_case):
    coarse, coarse_affine, _ = _coarse(phantom_case.labels, phantom_case.affine)
    lo, hi = fine_stage.fine_box(coarse, coarse_affine, CONFIG)
    assert np.all(hi - lo >= 32 * 2.0 - 1e-6)
    idx = np.argwhere(coarse == TUMOUR)
    world = idx @ coarse_affine[:3, :3].T + coarse_affine[:3, 3]
    assert np.all(world.min(0) - lo >= CONFIG["margin_mm"] - 1e-6)
    assert np.all(hi - world.max(0) >= CONFIG["margin_mm"] - 1e-6)
    # The fine image is the CT in that box on the fine grid, not the whole CT resampled.
    image = fine_stage.fine_image(
        phantom_case.hu.astype(np.float32), phantom_case.affine, lo, hi, CONFIG["spacing"]
    )
    assert np.allclose(np.diag(affine_of(image))[:3], 2.0)
    assert all(n <= (b - a) / 2.0 + 3 for n, a, b in zip(image.shape[1:], lo, hi, strict=True))


def test_a_perfect_fine_prediction_pasted_back_matches_the_truth(phantom_case):
    truth, affine = phantom_case.labels, phantom_case.affine
    coarse, coarse_affine, coarse_ct = _coarse(truth, affine)
    # Spoil the coarse tumour the way the 4 mm stage does: half of it called sacrum.
    spoilt = coarse_ct.copy()
    tumour_idx = np.argwhere(spoilt == TUMOUR)
    half = tumour_idx[tumour_idx[:, 2] < np.median(tumour_idx[:, 2])]
    spoilt[tuple(half.T)] = STRUCTURES["sacrum"]
    before = dice_per_structure(spoilt, truth, STRUCTURES)
    box = fine_stage.fine_box(coarse, coarse_affine, CONFIG)
    probs, fine_affine = _perfect_fine(truth, affine, box)
    merged = fine_stage.paste_fine(probs, fine_affine, spoilt, affine, box)
    after = dice_per_structure(merged, truth, STRUCTURES)
    assert before["tumour"] < 0.8
    assert after["tumour"] > 0.95
    # Only the tumour decision is the fine stage's: the hip bones are not touched.
    for hip in ("left_hip", "right_hip"):
        assert np.array_equal(merged == STRUCTURES[hip], spoilt == STRUCTURES[hip])
    assert after["sacrum"] >= before["sacrum"]


def test_merge_drops_fine_blobs_away_from_the_sacrum_and_relabels_the_coarse_tumour():
    coarse = np.zeros((40, 40, 40), np.uint8)
    coarse[10:30, 10:30, 5:15] = STRUCTURES["sacrum"]
    coarse[12:20, 12:20, 15:22] = TUMOUR
    fine = np.zeros((N_SEG_CLASSES, 40, 40, 40), np.float32)
    fine[0] = 1.0
    fine[:, 10:30, 10:30, 5:15] = 0.0
    fine[STRUCTURES["sacrum"], 10:30, 10:30, 5:15] = 1.0
    fine[:, 14:22, 14:22, 15:20] = 0.0
    fine[TUMOUR, 14:22, 14:22, 15:20] = 1.0  # the true tumour, on the sacrum
    fine[:, 2:9, 2:9, 30:38] = 0.0
    fine[TUMOUR, 2:9, 2:9, 30:38] = 1.0  # a larger false blob far from it
    affine = np.eye(4)
    merged = fine_stage.paste_fine(
        torch.as_tensor(fine), affine, coarse, affine, (np.zeros(3), np.full(3, 39.0))
    )
    assert (merged == TUMOUR).sum() == 8 * 8 * 5
    assert not (merged[2:9, 2:9, 30:38] == TUMOUR).any()
    # Coarse tumour voxels the fine stage does not call tumour take its label (background here).
    assert (merged[12:14, 12:20, 20:22] == 0).all()
    assert (merged == STRUCTURES["sacrum"]).sum() == (coarse == STRUCTURES["sacrum"]).sum()


def test_training_crops_hold_the_whole_tumour(phantom_case):
    truth, affine = phantom_case.labels, phantom_case.affine
    voxel_ml = abs(np.linalg.det(affine[:3, :3]))
    for seed in range(3):
        item = train_fine.fine_item(
            phantom_case.hu.astype(np.float32), truth, affine, CONFIG, np.random.default_rng(seed)
        )
        assert all(s >= 32 for s in item["seg_image"].shape[1:])
        fine_ml = (item["seg_labels"] == TUMOUR).sum().item() * 8.0
        assert fine_ml == pytest.approx((truth == TUMOUR).sum() * voxel_ml, rel=0.1)
    assert train_fine.fine_item(phantom_case.hu, np.zeros_like(truth), affine, CONFIG, None) is None


def test_models_without_a_fine_stage_fall_back_to_the_coarse_outline(tiny_models, tmp_path, phantom_case):
    root = tiny_models[0]
    with_fine = load_sacral_models(root)
    assert with_fine.fine is not None
    assert fine_stage.NAME in {c["name"] for c in with_fine.cards()}
    old = tmp_path / "old"
    shutil.copytree(root, old, ignore=shutil.ignore_patterns(fine_stage.NAME))
    without = load_sacral_models(old)
    assert without.fine is None
    assert fine_stage.NAME not in {c["name"] for c in without.cards()}
    seg = without.segment(phantom_case.hu.astype(np.float32), phantom_case.affine)
    assert seg["fine"]["applied"] is False
    assert seg["labels"].shape == phantom_case.labels.shape


def test_pipeline_warns_when_it_falls_back(tiny_models, tmp_path, phantom_case, monkeypatch):
    import nibabel as nib

    from inference_worker.sacral import domain, pipeline

    old = tmp_path / "old"
    shutil.copytree(tiny_models[0], old, ignore=shutil.ignore_patterns(fine_stage.NAME))
    path = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(phantom_case.hu.astype(np.float32), phantom_case.affine), str(path))
    # The tiny models' masks are poor: skip the checks so the run reaches the end either way.
    monkeypatch.setattr(domain, "segmentation_checks", lambda volumes, confidence: [])
    result = pipeline.analyze(
        [str(path)], out_dir=str(tmp_path / "out"), models=load_sacral_models(old), saliency=False
    )
    assert fine_stage.FINE_MISSING_WARNING in result["warnings"]
    assert {m["name"] for m in result["models"]} == {"segmenter", "classifier-fusion", "malignancy"}


def test_sacrum_box_also_holds_the_coarse_sacrum(phantom_case):
    coarse, coarse_affine, _ = _coarse(phantom_case.labels, phantom_case.affine)
    lo, hi = fine_stage.fine_box(coarse, coarse_affine, {**CONFIG, "box": "sacrum"})
    tumour_lo, tumour_hi = fine_stage.fine_box(coarse, coarse_affine, CONFIG)
    sacrum = np.argwhere(coarse == STRUCTURES["sacrum"]) @ coarse_affine[:3, :3].T + coarse_affine[:3, 3]
    assert np.all(lo <= sacrum.min(0)) and np.all(hi >= sacrum.max(0))
    assert np.all(lo <= tumour_lo + 1e-6) and np.all(hi >= tumour_hi - 1e-6)


class _SidedNet(torch.nn.Module):
    """Calls the image's left half (RAS x low) left hip and its right half right hip,
    whatever the intensities: a net that knows anatomy, for checking the flip."""

    def forward(self, x):
        logits = torch.zeros((x.shape[0], N_SEG_CLASSES, *x.shape[2:]))
        half = x.shape[2] // 2
        logits[:, STRUCTURES["left_hip"], :half] = 5.0
        logits[:, STRUCTURES["right_hip"], half:] = 5.0
        return logits


def test_flip_averages_with_the_mirror_and_swaps_the_hips_back():
    image = torch.rand((1, 16, 16, 16))
    config = {**CONFIG, "roi": [16, 16, 16]}
    plain = fine_stage.fine_probabilities(_SidedNet(), image, config, "cpu")
    flipped = fine_stage.fine_probabilities(_SidedNet(), image, {**config, "flip": True}, "cpu")
    # Without the channel swap the mirror would call the left half right hip and the
    # average would sit at 0.5; with it, a consistent net is its own mirror.
    assert torch.allclose(plain, flipped, atol=1e-6)
    assert plain[STRUCTURES["left_hip"], :8].min() > 0.9


def test_blastic_tumours_are_oversampled_and_others_kept_once():
    items = [{"blastic": True}, {"blastic": False}, {}]
    out = train_fine.oversampled(items, 4)
    assert sum(i is items[0] for i in out) == 4
    assert sum(i is items[1] for i in out) == 1 and sum(i is items[2] for i in out) == 1


class _NothingNet(torch.nn.Module):
    """Calls everything background."""

    def forward(self, x):
        logits = torch.zeros((x.shape[0], N_SEG_CLASSES, *x.shape[2:]))
        logits[:, 0] = 5.0
        return logits


def test_a_fine_stage_that_finds_no_tumour_keeps_the_coarse_outline(phantom_case):
    truth, affine = phantom_case.labels, phantom_case.affine
    coarse, coarse_affine, coarse_ct = _coarse(truth, affine)
    hu = phantom_case.hu.astype(np.float32)
    labels, info = fine_stage.refine(
        _NothingNet(), CONFIG, hu, affine, coarse, coarse_affine, coarse_ct, "cpu"
    )
    assert info["applied"] is False and "coarse outline kept" in info["reason"]
    assert np.array_equal(labels, coarse_ct)
