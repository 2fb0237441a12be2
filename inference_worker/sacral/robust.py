"""Classifier inputs as the pipeline will see them: from imperfect tumour masks.

The classifiers used to train on crops of the *true* tumour mask, while ``analyze`` and
``evaluate`` hand them crops of the *predicted* one (held-out tumour Dice ~0.7: borders
off by a 4 mm voxel or two, parts of the tumour missed). Two sources of such inputs:

- ``perturb_tumour``: the true mask grown or shrunk by a few millimetres and, often,
  cut by a random plane (a part of the tumour missed). That moves the crop's centre,
  changes its side and the volume and location inputs, as a segmentation error does.
- ``predicted_features``: the trained segmenter's own mask, exactly what inference sees.
  On validation cases (never seen by the segmenter) this is the honest stand-in for the
  test condition, so model selection and temperature use it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from inference_worker.sacral.features import case_features
from inference_worker.sacral.preprocess import STRUCTURES
from inference_worker.sacral.tabular import LOCATION

# Border error in mm: about one voxel of the segmenter's 4 mm grid either way; at least
# one CT voxel (~1.9 mm in plane), so that every view differs from the true mask.
BORDER_MM = (2.0, 6.0)
P_CUT = 0.5  # share of variants that also lose a slab of the tumour
KEEP_RANGE = (0.55, 0.95)  # share of the tumour kept by a cut
PAD = 4  # voxels around the tumour's box, room to grow


def _spacing(affine: np.ndarray) -> np.ndarray:
    return np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))


def perturb_tumour(labels: np.ndarray, affine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``labels`` whose tumour is a plausible segmentation error of the true one.

    Only tumour voxels and background/sacrum voxels next to them change; hip bones are
    never overwritten (the location input is measured in their frame). Never empty: a
    perturbation that would erase the tumour falls back to the true mask.
    """
    tumour_id = STRUCTURES["tumour"]
    tumour = labels == tumour_id
    if not tumour.any():
        raise ValueError("no tumour to perturb")
    idx = np.argwhere(tumour)
    lo = np.maximum(idx.min(0) - PAD, 0)
    hi = np.minimum(idx.max(0) + PAD + 1, labels.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    m = tumour[box]
    spacing = _spacing(affine)
    r = float(rng.uniform(*BORDER_MM)) * (1 if rng.random() < 0.5 else -1)
    if r >= 0:
        new = ndi.distance_transform_edt(~m, sampling=spacing) <= r
    else:
        new = ndi.distance_transform_edt(m, sampling=spacing) > -r
    if rng.random() < P_CUT and new.sum() > 8:
        # A random plane keeps a share of the tumour: the part the segmenter found.
        pts = np.argwhere(new) * spacing
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        proj = pts @ direction
        cut = np.quantile(proj, rng.uniform(*KEEP_RANGE))
        keep = np.zeros_like(new)
        inside = np.argwhere(new)[proj <= cut]
        keep[tuple(inside.T)] = True
        new = keep
    if new.sum() < max(4, 0.1 * m.sum()):
        new = m  # too little left to stand for a detected tumour
    out = labels.copy()
    sub = out[box]
    hips = (sub == STRUCTURES["left_hip"]) | (sub == STRUCTURES["right_hip"])
    sub[m & ~new] = STRUCTURES["sacrum"]  # what was tumour and is no longer: bone it grew in
    sub[new & ~hips] = tumour_id
    return out


def perturbed_features(
    hu, labels, affine, clinical, crop: int, k: int, rng: np.random.Generator
) -> list[dict]:
    """``k`` feature sets (crop, volume, location) from perturbed tumour masks."""
    return [case_features(hu, perturb_tumour(labels, affine, rng), affine, clinical, crop) for _ in range(k)]


def predicted_features(
    net, seg_config: dict, device, hu, affine, clinical, crop: int, fine=None
) -> dict | None:
    """Features from the segmenter's labels, as ``analyze`` computes them (``fine``: the
    fine tumour stage's (network, config), as the pipeline runs it); None when no tumour."""
    from inference_worker.sacral.segmentation import segment

    seg = segment(net, hu, affine, seg_config, device, fine=fine)
    labels = seg["labels"]
    if not (labels == STRUCTURES["tumour"]).any():
        return None
    return case_features(hu, labels, affine, clinical, crop)


def mirrored(features: dict) -> dict:
    """The same case mirrored across the midline: crop flipped left-right (axis 0 of the
    RAS-aligned crop) and the hip-frame x of the tumour's centroid negated, so image and
    location inputs stay consistent. Label-preserving here because the phantoms draw an
    off-midline tumour's side left or right with equal odds (phantoms/sacral_priors.py);
    extents, volume and clinical inputs do not change."""
    out = dict(features)
    out["crop"] = np.ascontiguousarray(features["crop"][:, ::-1])
    loc = list(features["location_raw"])
    loc[LOCATION.index("x")] = -loc[LOCATION.index("x")]
    out["location_raw"] = loc
    out.pop("location", None)  # the full location dict is not mirrored; training reads location_raw
    return out
