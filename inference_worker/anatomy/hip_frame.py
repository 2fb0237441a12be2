"""The hip-bone reference frame: tumour location that means the same on every scanner.

Seed 001 expresses the tumour centroid relative to the segmented hip bones rather than
in voxel or scanner coordinates. Our definition (see docs/hip_frame.md):

- origin: the midpoint of the two hip-bone centroids;
- x (left-right) axis: unit vector from the left to the right hip-bone centroid, so +x
  points to the patient's right like RAS +x;
- z (superior) axis: the in-plane principal axis of both hip bones together, taken in
  the plane orthogonal to x and signed to point up (scanner +z). If the bones' spread
  in that plane is too isotropic for the principal axis to be stable, the scanner's
  superior axis, orthogonalised to x, is used instead (and the frame says so);
- y (anterior) axis: z cross x, making a right-handed frame like RAS;
- scale: the inter-centroid distance, so coordinates are dimensionless and a small and
  a large pelvis give comparable numbers.

Centroids are means over many voxels, so the frame barely moves with voxel size,
translation, a few degrees of rotation or a field of view that still holds both bones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this ratio of the two in-plane variances the principal direction is unreliable.
MIN_ANISOTROPY = 1.15
# |x| below this (in inter-centroid units, about 1.5-2 cm in adults) counts as midline.
MIDLINE_HALF_WIDTH = 0.08


@dataclass(frozen=True)
class HipFrame:
    origin: np.ndarray  # (3,) RAS mm
    axes: np.ndarray  # (3, 3) rows: right, anterior, superior unit vectors in RAS
    scale: float  # mm per frame unit (inter-centroid distance)
    superior_from: str  # "principal_axis" or "scanner"

    def to_frame(self, points_mm: np.ndarray) -> np.ndarray:
        """RAS mm points (..., 3) -> dimensionless frame coordinates (..., 3)."""
        points = np.asarray(points_mm, dtype=np.float64)
        return (points - self.origin) @ self.axes.T / self.scale

    def to_mm(self, points_frame: np.ndarray) -> np.ndarray:
        points = np.asarray(points_frame, dtype=np.float64)
        return points * self.scale @ self.axes + self.origin

    def as_dict(self) -> dict:
        return {
            "origin_mm": [round(float(v), 2) for v in self.origin],
            "axes": [[round(float(v), 4) for v in row] for row in self.axes],
            "scale_mm": round(float(self.scale), 2),
            "superior_from": self.superior_from,
        }


def voxel_points_mm(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World (RAS mm) coordinates of a mask's voxel centres, (N, 3)."""
    index = np.argwhere(mask)
    return index @ affine[:3, :3].T + affine[:3, 3]


def _voxel_volume_ml(affine: np.ndarray) -> float:
    return abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0


def hip_frame(left_mask: np.ndarray, right_mask: np.ndarray, affine: np.ndarray) -> HipFrame:
    """Build the frame from the patient's left and right hip-bone masks on one grid."""
    left = voxel_points_mm(left_mask, affine)
    right = voxel_points_mm(right_mask, affine)
    if len(left) < 10 or len(right) < 10:
        raise ValueError("both hip bones are needed for the hip-bone frame")
    c_left, c_right = left.mean(axis=0), right.mean(axis=0)
    scale = float(np.linalg.norm(c_right - c_left))
    if scale < 1.0:
        raise ValueError("hip-bone centroids coincide")
    x_axis = (c_right - c_left) / scale

    # Each bone's cloud about its own centroid: the principal axis then describes the
    # bones' shape, not their separation (which is x already).
    cloud = np.concatenate([left - c_left, right - c_right])
    in_plane = cloud - np.outer(cloud @ x_axis, x_axis)
    values, vectors = np.linalg.eigh(np.cov(in_plane.T))
    # eigh sorts ascending; the last is the largest spread; the smallest is ~x (zero).
    major, minor = vectors[:, 2], vectors[:, 1]
    scanner_up = np.array([0.0, 0.0, 1.0])
    # Pick whichever in-plane principal direction is closer to scanner-superior: the
    # hip bone's longest in-plane extent is cranio-caudal in adults, but asking the
    # scanner keeps a squat phantom from swapping axes.
    candidate = major if abs(major @ scanner_up) >= abs(minor @ scanner_up) else minor
    anisotropy = values[2] / max(values[1], 1e-9)
    if anisotropy >= MIN_ANISOTROPY:
        z_axis, source = candidate, "principal_axis"
    else:
        z_axis, source = scanner_up - (scanner_up @ x_axis) * x_axis, "scanner"
    z_axis = z_axis - (z_axis @ x_axis) * x_axis
    z_axis /= np.linalg.norm(z_axis)
    if z_axis @ scanner_up < 0:
        z_axis = -z_axis
    y_axis = np.cross(z_axis, x_axis)
    return HipFrame(
        origin=(c_left + c_right) / 2.0,
        axes=np.stack([x_axis, y_axis, z_axis]),
        scale=scale,
        superior_from=source,
    )


def side_of(x: float) -> str:
    if x > MIDLINE_HALF_WIDTH:
        return "right"
    if x < -MIDLINE_HALF_WIDTH:
        return "left"
    return "midline"


def tumour_location(tumour_mask: np.ndarray, affine: np.ndarray, frame: HipFrame) -> dict:
    """Where a tumour lies in the hip frame: centroid, extent, side, volume.

    ``extent`` is the 2nd-98th percentile range along each frame axis, so a stray voxel
    does not inflate it.
    """
    points = voxel_points_mm(tumour_mask, affine)
    if len(points) == 0:
        raise ValueError("empty tumour mask")
    coords = frame.to_frame(points)
    centroid = coords.mean(axis=0)
    low, high = np.percentile(coords, [2, 98], axis=0)
    return {
        "centroid": [round(float(v), 4) for v in centroid],
        "axes": ["right", "anterior", "superior"],
        "extent": [round(float(v), 4) for v in high - low],
        "bounds": [[round(float(a), 4), round(float(b), 4)] for a, b in zip(low, high, strict=True)],
        "side": side_of(float(centroid[0])),
        "crosses_midline": bool(low[0] < -MIDLINE_HALF_WIDTH and high[0] > MIDLINE_HALF_WIDTH),
        "centroid_mm": [round(float(v), 2) for v in points.mean(axis=0)],
        "volume_ml": round(len(points) * _voxel_volume_ml(affine), 3),
        "frame": frame.as_dict(),
    }
