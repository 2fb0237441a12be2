"""Bone and spine radiograph phantoms: types, masks, boxes, determinism."""

import numpy as np

from inference_worker.phantoms import bone_xray, spine_xray


def test_bone_case(bone_case):
    c = bone_case
    assert c.pixels.dtype == np.uint16 and c.pixels.ndim == 2
    assert c.mask.shape == c.pixels.shape and c.mask.any()
    x0, y0, x1, y1 = c.box
    assert 0 <= x0 < x1 <= c.pixels.shape[1] and 0 <= y0 < y1 <= c.pixels.shape[0]
    ys, xs = np.nonzero(c.mask)
    assert xs.min() == x0 and ys.min() == y0
    assert set(c.clinical) >= {
        "age",
        "sex",
        "site",
        "site_group",
        "pain",
        "swelling",
        "trauma",
        "crp",
        "esr",
        "alp",
    }


def test_every_bone_subtype_renders():
    for k, dx in enumerate([*bone_xray.TUMOURS, *bone_xray.INFECTIONS]):
        c = bone_xray.generate_case(100 + k, dx)
        assert c.diagnosis == dx and c.mask.any(), dx


def test_spine_case(spine_case):
    c = spine_case
    assert c.diagnosis == "metastasis" and c.level[0] in "TL"
    for view in ("ap", "lateral"):
        img = getattr(c, view)
        assert img.dtype == np.uint16
        assert c.masks[view].shape == img.shape and c.masks[view].any()
        x0, y0, x1, y1 = c.boxes[view]
        assert x0 < x1 and y0 < y1


def test_radiographs_deterministic(bone_case, spine_case):
    assert np.array_equal(bone_xray.generate_case(42, "osteosarcoma").pixels, bone_case.pixels)
    assert np.array_equal(spine_xray.generate_case(42, "metastasis").ap, spine_case.ap)
    fracture = spine_xray.generate_case(7, "osteoporotic_fracture")
    assert fracture.findings["winking_pedicle"] is False
