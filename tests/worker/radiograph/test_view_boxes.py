"""Each view of a multi-view manifest row gets its own lesion box, as the phantom drew it."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from inference_worker.manifest import read_manifest
from inference_worker.phantoms.cohort import generate_cohort
from inference_worker.radiograph.data import load_views, mask_box, view_boxes


def test_mask_box_is_the_exclusive_bounding_box(tmp_path):
    mask = np.zeros((40, 30), dtype=np.uint8)
    mask[5:12, 7:20] = 1
    Image.fromarray(mask).save(tmp_path / "m.png")
    assert mask_box(tmp_path / "m.png") == (7, 5, 20, 12)
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "empty.png")
    assert mask_box(tmp_path / "empty.png") is None


def test_spine_rows_get_the_ap_and_the_lateral_box_of_the_phantom(tmp_path):
    manifest = generate_cohort("spine-xray", 2, seed=3, out=tmp_path, splits={"train": 1.0}, workers=1)
    rows = read_manifest(manifest)
    for row in rows:
        truth = json.loads((tmp_path / row.case_id / "phantom.json").read_text())["boxes"]
        assert view_boxes(row, 2) == [tuple(truth["ap"]), tuple(truth["lateral"])]
    # Cropped inputs differ from whole views, and each view is cropped at its own box.
    cropped, _ = load_views(rows, 2, 32, use_box=True, use_clahe=False)
    whole, _ = load_views(rows, 2, 32, use_box=False, use_clahe=False)
    assert cropped.shape == whole.shape == (2, 2, 32, 32)
    assert np.abs(cropped - whole).mean() > 0.05
    # A lateral view without its mask file falls back to the whole view.
    (tmp_path / rows[0].case_id / "lateral_mask.png").unlink()
    assert view_boxes(rows[0], 2)[1] is None
