"""Signed-distance primitives (negative inside, millimetres) on coordinate arrays.

Anatomy is built from these so that cortex, marrow and joint gaps can all be read
off one distance value per bone: cortex is the band ``-t < d < 0``.
"""

from __future__ import annotations

import numpy as np


def ellipse2(u, v, a: float, b: float):
    """Approximate signed distance to an axis-aligned ellipse of half-axes a, b."""
    radius = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return (radius - 1.0) * np.minimum(a, b)


def ellipsoid(x, y, z, centre, axes):
    """Approximate signed distance to an axis-aligned ellipsoid."""
    cx, cy, cz = centre
    a, b, c = axes
    radius = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 + ((z - cz) / c) ** 2)
    return (radius - 1.0) * min(axes)


def capsule(x, y, z, points, radii):
    """Signed distance to a tube along a polyline whose radius varies linearly."""
    out = None
    for k in range(len(points) - 1):
        p = np.asarray(points[k], dtype=np.float32)
        q = np.asarray(points[k + 1], dtype=np.float32)
        rp, rq = radii[k], radii[k + 1]
        axis = q - p
        length2 = float(axis @ axis) or 1e-6
        t = ((x - p[0]) * axis[0] + (y - p[1]) * axis[1] + (z - p[2]) * axis[2]) / length2
        t = np.clip(t, 0.0, 1.0)
        dist = np.sqrt(
            (x - p[0] - t * axis[0]) ** 2 + (y - p[1] - t * axis[1]) ** 2 + (z - p[2] - t * axis[2]) ** 2
        )
        d = dist - (rp + (rq - rp) * t)
        out = d if out is None else np.minimum(out, d)
    return out


def union(*fields):
    out = fields[0]
    for f in fields[1:]:
        out = np.minimum(out, f)
    return out


def subtract(base, cut):
    return np.maximum(base, -cut)


def intersect(*fields):
    out = fields[0]
    for f in fields[1:]:
        out = np.maximum(out, f)
    return out


class Arc:
    """A circular arc in the sagittal (y, z) plane used as a curved spine axis.

    ``local(y, z)`` gives (s, d): arc length from the start along the direction of
    travel, and the signed offset across it (positive to the left of travel when
    looking from the patient's right, i.e. posterior for a spine walked downward).
    A circle keeps this cheap: one arctan2 per voxel instead of a nearest-point search.
    """

    def __init__(self, start, direction, radius: float, bend: int):
        self.start = np.asarray(start, dtype=float)
        t = np.asarray(direction, dtype=float)
        self.tangent = t / np.linalg.norm(t)
        self.radius = float(radius)
        # bend=+1 curves toward the anterior-side normal, -1 toward the posterior side.
        normal = np.array([-self.tangent[1], self.tangent[0]])  # tangent rotated +90 deg
        self.side = bend
        self.centre = self.start + bend * radius * normal
        rel = self.start - self.centre
        self.phi0 = float(np.arctan2(rel[1], rel[0]))

    def local(self, y, z):
        dy = y - self.centre[0]
        dz = z - self.centre[1]
        phi = np.arctan2(dz, dy)
        dphi = np.angle(np.exp(1j * (phi - self.phi0)))  # wrap to (-pi, pi]
        # Travelling along the tangent changes phi with the sign of bend.
        s = (self.side * dphi * self.radius).astype(np.float32)
        r = np.sqrt(dy * dy + dz * dz)
        d = (self.side * (r - self.radius)).astype(np.float32)
        return s, d

    def point(self, s: float, d: float = 0.0) -> np.ndarray:
        """(y, z) of the point at arc length s and offset d."""
        phi = self.phi0 + self.side * s / self.radius
        r = self.radius + self.side * d
        return self.centre + r * np.array([np.cos(phi), np.sin(phi)])
