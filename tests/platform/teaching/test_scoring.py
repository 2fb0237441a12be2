"""Region overlap and correctness, checked against numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from teaching import scoring


def test_box_mask_counts_pixel_centres():
    # Centres at 0.5, 1.5, ...: x in [2, 6] covers columns 2..5 (centres 2.5..5.5).
    m = scoring.box_mask((2, 2, 6, 6), (10, 10))
    assert m.sum() == 16
    assert m[2:6, 2:6].all()


def test_rectangle_region_any_corner_order():
    region = {"shape": "rect", "points": [[4, 4], [0, 0]], "rows": 10, "columns": 10}
    assert scoring.region_mask(region, (10, 10)).sum() == 16


def test_polygon_region_right_triangle():
    # Triangle (0,0) (10.2,0) (0,10.2): a pixel centre (c+.5, r+.5) is inside when
    # c + r + 1 < 10.2, i.e. c + r <= 9 (no centre on the edge): 10 + 9 + ... + 1 = 55 pixels.
    region = {"shape": "polygon", "points": [[0, 0], [10.2, 0], [0, 10.2]], "rows": 10, "columns": 10}
    mask = scoring.region_mask(region, (10, 10))
    assert mask.sum() == 55
    assert mask[0, 9] and mask[9, 0] and not mask[1, 9]


def test_dice_iou_and_heat_mass_by_hand():
    region = {"shape": "rect", "points": [[0, 0], [4, 4]], "rows": 10, "columns": 10}  # 16 px
    reference = scoring.box_mask((2, 2, 6, 6), (10, 10))  # 16 px, overlap 2 x 2 = 4
    heat = np.zeros((10, 10))
    heat[0, 0] = 3.0  # inside the region
    heat[9, 9] = 1.0  # outside
    heat[5, 5] = -2.0  # negative saliency counts as nothing
    scores = scoring.region_scores(region, reference, {"gradcam": heat, "scorecam": np.ones((10, 10))})
    assert scores["area_px"] == 16
    assert scores["dice"] == pytest.approx(2 * 4 / 32)  # 0.25
    assert scores["iou"] == pytest.approx(4 / 28, abs=1e-4)  # 0.1429
    assert scores["heat_inside_gradcam"] == pytest.approx(0.75)
    assert scores["heat_inside_scorecam"] == pytest.approx(0.16)


def test_scores_skip_what_does_not_fit():
    region = {"shape": "rect", "points": [[0, 0], [4, 4]], "rows": 10, "columns": 10}
    scores = scoring.region_scores(region, np.zeros((5, 5), bool), {"gradcam": np.zeros((10, 10))})
    assert scores == {"area_px": 16}  # wrong-sized mask; an all-zero heat-map has no mass
    assert scoring.region_scores(None, None, {}) == {}


def test_iou_and_heat_of_empty_things():
    empty = np.zeros((3, 3), bool)
    assert scoring.iou(empty, empty) == 1.0
    assert scoring.heat_mass_inside(empty, np.zeros((3, 3))) is None


@pytest.mark.parametrize(
    "region,error",
    [
        ({"shape": "circle", "points": []}, "rect or polygon"),
        ({"shape": "rect", "points": [[1, 2]]}, "two corner"),
        ({"shape": "polygon", "points": [[1, 2], [3, 4]]}, "3 to"),
        ({"shape": "rect", "points": [["a", 2], [3, 4]]}, "pairs of numbers"),
        ({"shape": "rect", "points": [[float("nan"), 2], [3, 4]]}, "finite"),
    ],
)
def test_bad_regions_are_refused(region, error):
    with pytest.raises(scoring.RegionError, match=error):
        scoring.clean_region(region, 10, 10)


def test_regions_are_clipped_to_the_image():
    clean = scoring.clean_region({"shape": "rect", "points": [[-5, 3], [50, 8]]}, 10, 20)
    assert clean == {"shape": "rect", "points": [[0.0, 3.0], [20.0, 8.0]], "rows": 10, "columns": 20}
    assert scoring.clean_region(None, 10, 10) is None


def test_reader_rating_scale():
    assert [
        scoring.reader_score(False, c) for c in ("certain", "almost_certain", "probable", "possible")
    ] == [1, 2, 3, 4]
    assert [scoring.reader_score(True, c) for c in ("possible", "probable", "almost_certain", "certain")] == [
        5,
        6,
        7,
        8,
    ]


SACRAL = {
    "metastasis": 0.1,
    "chondrosarcoma": 0.1,
    "osteosarcoma": 0.1,
    "chordoma": 0.5,
    "neurogenic_tumour": 0.15,
    "giant_cell_tumour": 0.05,
}


def test_model_scores_per_task():
    result = {"opinions": [{"probabilities": SACRAL}]}
    assert scoring.model_top_class(result, "sacral-ct") == "chordoma"
    # Malignant classes: metastasis, chondrosarcoma, osteosarcoma, chordoma; GCT is intermediate.
    assert scoring.model_positive_score(result, "sacral-ct") == pytest.approx(0.8)
    with_malignancy = {
        "opinions": [{"probabilities": SACRAL}, {"probabilities": {"benign": 0.3, "malignant": 0.7}}]
    }
    assert scoring.model_positive_score(with_malignancy, "sacral-ct") == pytest.approx(0.7)
    xray = {"opinions": [{"probabilities": {"tumour": 0.35, "infection": 0.65}}]}
    assert scoring.model_positive_score(xray, "bone-xray") == pytest.approx(0.65)
    assert scoring.model_top_class(xray, "spine-xray") is None  # wrong task's classes


def test_positive_class_per_task():
    assert scoring.is_positive("sacral-ct", "chordoma", True) is True
    assert scoring.is_positive("bone-xray", "infection", False) is True
    assert scoring.is_positive("spine-xray", "fracture", True) is False
    assert scoring.is_positive("bone-xray", None, True) is None
