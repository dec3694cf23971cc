"""Signed distance functions as small expression trees over numpy arrays or torch tensors.

Every node maps points ``(..., 3)`` to distances ``(...)``, negative inside. The same code
runs on numpy and on torch (any device, differentiable) through the array API
(``array_api_compat``), so the procedural shapes give the data pipeline exact numpy SDFs and
the models a torch SDF they can backpropagate through.

Primitives are exact distances (the closed forms catalogued by Inigo Quilez). Unions are
exact outside and a bound inside; differences and intersections are bounds. All nodes are
1-Lipschitz, which is what near-surface sampling and sphere tracing rely on. Each node also
reports a conservative axis-aligned bounding box, so a shape is normalised to the unit cube
without sampling its field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

Array = Any  # numpy.ndarray or torch.Tensor
Bounds = tuple[np.ndarray, np.ndarray]
Vec3 = Sequence[float]


def _const(value: Any, like: Array) -> Array:
    """``value`` as an array of ``like``'s namespace, dtype and device."""
    xp = array_namespace(like)
    return xp.asarray(np.asarray(value), dtype=like.dtype, device=array_device(like))


def _sqrt(x: Array) -> Array:
    """sqrt with a finite gradient at 0 (surface points and the axis of revolution hit 0
    exactly, where autograd of a plain sqrt gives NaN)."""
    xp = array_namespace(x)
    return xp.sqrt(xp.maximum(x, 1e-30))


def _bounds(lo: Vec3, hi: Vec3) -> Bounds:
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def _pad(bounds: Bounds, amount: float) -> Bounds:
    return bounds[0] - amount, bounds[1] + amount


def rotation_matrix(axis: str, degrees: float) -> np.ndarray:
    """The 3x3 matrix of a right-handed rotation by ``degrees`` about ``axis``."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)
    if axis == "z":
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)
    raise ValueError(f"rotation axis must be 'x', 'y' or 'z', not {axis!r}")


class SDF:
    """A signed distance field node; call it on points ``(..., 3)``."""

    def __call__(self, points: Array) -> Array:
        return self.distance(points)

    def distance(self, points: Array) -> Array:
        raise NotImplementedError

    def bounds(self) -> Bounds:
        """A conservative axis-aligned box ``(lo, hi)`` containing the surface."""
        raise NotImplementedError

    # Placement. Transforms compose into one node, so a chain costs one matrix product.
    def translate(self, x: float, y: float, z: float) -> SDF:
        return Transformed.of(self, translation=(x, y, z))

    def rotate(self, axis: str, degrees: float) -> SDF:
        return Transformed.of(self, rotation=rotation_matrix(axis, degrees))

    def scale(self, factor: float) -> SDF:
        return Transformed.of(self, scale=factor)

    def shell(self, thickness: float) -> SDF:
        """A hollow skin of ``thickness`` on each side of this surface."""
        return Shell(self, thickness)

    def __or__(self, other: SDF) -> SDF:
        return Union(self, other)

    def __and__(self, other: SDF) -> SDF:
        return Intersection(self, other)

    def __sub__(self, other: SDF) -> SDF:
        return Difference(self, other)


# --------------------------------------------------------------------------- primitives
class Sphere(SDF):
    def __init__(self, radius: float):
        self.radius = float(radius)

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        return xp.linalg.vector_norm(points, axis=-1) - self.radius

    def bounds(self) -> Bounds:
        r = self.radius
        return _bounds((-r, -r, -r), (r, r, r))


class Box(SDF):
    """A box of half extents ``half`` with edges rounded by ``rounding``."""

    def __init__(self, half: Vec3, rounding: float = 0.0):
        self.half = np.asarray(half, dtype=np.float64)
        self.rounding = float(min(rounding, self.half.min()))

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        q = xp.abs(points) - _const(self.half - self.rounding, points)
        outside = xp.linalg.vector_norm(xp.maximum(q, 0.0), axis=-1)
        inside = xp.minimum(xp.max(q, axis=-1), 0.0)
        return outside + inside - self.rounding

    def bounds(self) -> Bounds:
        return _bounds(-self.half, self.half)


class Cylinder(SDF):
    """A cylinder along +Y: ``radius``, ``half_height``, optionally rounded edges."""

    def __init__(self, radius: float, half_height: float, rounding: float = 0.0):
        self.radius = float(radius)
        self.half_height = float(half_height)
        self.rounding = float(min(rounding, radius, half_height))

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        x, y, z = points[..., 0], points[..., 1], points[..., 2]
        dr = _sqrt(x * x + z * z) - (self.radius - self.rounding)
        dy = xp.abs(y) - (self.half_height - self.rounding)
        outside = _sqrt(xp.maximum(dr, 0.0) ** 2 + xp.maximum(dy, 0.0) ** 2)
        inside = xp.minimum(xp.maximum(dr, dy), 0.0)
        return outside + inside - self.rounding

    def bounds(self) -> Bounds:
        r, h = self.radius, self.half_height
        return _bounds((-r, -h, -r), (r, h, r))


class Capsule(SDF):
    """All points within ``radius`` of the segment from ``a`` to ``b``."""

    def __init__(self, a: Vec3, b: Vec3, radius: float):
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self.radius = float(radius)

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        ba = self.b - self.a
        pa = points - _const(self.a, points)
        denom = max(float(ba @ ba), 1e-12)
        h = xp.clip(xp.sum(pa * _const(ba, points), axis=-1) / denom, 0.0, 1.0)
        return xp.linalg.vector_norm(pa - h[..., None] * _const(ba, points), axis=-1) - self.radius

    def bounds(self) -> Bounds:
        lo = np.minimum(self.a, self.b) - self.radius
        hi = np.maximum(self.a, self.b) + self.radius
        return lo, hi


class Torus(SDF):
    """A ring lying in the XZ plane: ``major`` radius of the ring, ``minor`` of its tube."""

    def __init__(self, major: float, minor: float):
        self.major = float(major)
        self.minor = float(minor)

    def distance(self, points: Array) -> Array:
        x, y, z = points[..., 0], points[..., 1], points[..., 2]
        qx = _sqrt(x * x + z * z) - self.major
        return _sqrt(qx * qx + y * y) - self.minor

    def bounds(self) -> Bounds:
        r, t = self.major + self.minor, self.minor
        return _bounds((-r, -t, -r), (r, t, r))


class Cone(SDF):
    """A capped cone (frustum) along +Y: ``bottom`` radius at -half_height, ``top`` at +."""

    def __init__(self, bottom: float, top: float, half_height: float):
        self.bottom = float(bottom)
        self.top = float(top)
        self.half_height = float(half_height)

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        x, y, z = points[..., 0], points[..., 1], points[..., 2]
        h, r1, r2 = self.half_height, self.bottom, self.top
        qx = _sqrt(x * x + z * z)
        qy = y
        # Distance to the flat caps (ca) and to the slanted side (cb), in the (radius, y) plane.
        cap_radius = xp.where(qy < 0.0, _const(r1, qx), _const(r2, qx))
        ca_x = qx - xp.minimum(qx, cap_radius)
        ca_y = xp.abs(qy) - h
        k2x, k2y = r2 - r1, 2.0 * h
        t = xp.clip(((r2 - qx) * k2x + (h - qy) * k2y) / (k2x * k2x + k2y * k2y), 0.0, 1.0)
        cb_x = qx - r2 + k2x * t
        cb_y = qy - h + k2y * t
        sign = xp.where((cb_x < 0.0) & (ca_y < 0.0), _const(-1.0, qx), _const(1.0, qx))
        return sign * _sqrt(xp.minimum(ca_x * ca_x + ca_y * ca_y, cb_x * cb_x + cb_y * cb_y))

    def bounds(self) -> Bounds:
        r, h = max(self.bottom, self.top), self.half_height
        return _bounds((-r, -h, -r), (r, h, r))


# --------------------------------------------------------------------------- placement
class Transformed(SDF):
    """``child`` placed by a uniform scale, then a rotation, then a translation."""

    def __init__(self, child: SDF, rotation: np.ndarray, translation: np.ndarray, scale: float):
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        self.child = child
        self.rotation = np.asarray(rotation, dtype=np.float64)
        self.translation = np.asarray(translation, dtype=np.float64)
        self.factor = float(scale)

    @classmethod
    def of(
        cls,
        child: SDF,
        rotation: np.ndarray | None = None,
        translation: Vec3 = (0.0, 0.0, 0.0),
        scale: float = 1.0,
    ) -> Transformed:
        """Apply a transform after ``child``'s own, merging the two into one node."""
        rot = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
        t = np.asarray(translation, dtype=np.float64)
        if isinstance(child, Transformed):
            # world = s R (s0 R0 x + t0) + t  =  (s s0) (R R0) x + (s R t0 + t)
            return cls(
                child.child,
                rot @ child.rotation,
                scale * rot @ child.translation + t,
                scale * child.factor,
            )
        return cls(child, rot, t, scale)

    def distance(self, points: Array) -> Array:
        # Row vectors: local = R^T (p - t) / s  is  (p - t) @ R / s.
        local = (points - _const(self.translation, points)) @ _const(self.rotation, points)
        return self.child.distance(local / self.factor) * self.factor

    def bounds(self) -> Bounds:
        lo, hi = self.child.bounds()
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        world = self.factor * corners @ self.rotation.T + self.translation
        return world.min(axis=0), world.max(axis=0)


# --------------------------------------------------------------------------- CSG
class Union(SDF):
    def __init__(self, *children: SDF):
        if not children:
            raise ValueError("a union needs at least one child")
        self.children = children

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        d = self.children[0].distance(points)
        for child in self.children[1:]:
            d = xp.minimum(d, child.distance(points))
        return d

    def bounds(self) -> Bounds:
        boxes = [c.bounds() for c in self.children]
        return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


class SmoothUnion(Union):
    """A union that blends surfaces within ``k`` of each other (polynomial smooth min)."""

    def __init__(self, *children: SDF, k: float):
        super().__init__(*children)
        self.k = float(k)

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        d = self.children[0].distance(points)
        for child in self.children[1:]:
            b = child.distance(points)
            h = xp.clip(0.5 + 0.5 * (b - d) / self.k, 0.0, 1.0)
            d = b + (d - b) * h - self.k * h * (1.0 - h)
        return d

    def bounds(self) -> Bounds:
        # The blend moves the surface outwards by at most k/4.
        return _pad(super().bounds(), self.k / 4.0)


class Intersection(SDF):
    def __init__(self, *children: SDF):
        if not children:
            raise ValueError("an intersection needs at least one child")
        self.children = children

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        d = self.children[0].distance(points)
        for child in self.children[1:]:
            d = xp.maximum(d, child.distance(points))
        return d

    def bounds(self) -> Bounds:
        boxes = [c.bounds() for c in self.children]
        return np.max([b[0] for b in boxes], axis=0), np.min([b[1] for b in boxes], axis=0)


class Difference(SDF):
    """``base`` with every one of ``cutters`` carved out of it."""

    def __init__(self, base: SDF, *cutters: SDF):
        if not cutters:
            raise ValueError("a difference needs at least one cutter")
        self.base = base
        self.cutters = Union(*cutters)

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        return xp.maximum(self.base.distance(points), -self.cutters.distance(points))

    def bounds(self) -> Bounds:
        return self.base.bounds()


class Shell(SDF):
    """The skin of ``child``: points within ``thickness`` of its surface."""

    def __init__(self, child: SDF, thickness: float):
        self.child = child
        self.thickness = float(thickness)

    def distance(self, points: Array) -> Array:
        xp = array_namespace(points)
        return xp.abs(self.child.distance(points)) - self.thickness

    def bounds(self) -> Bounds:
        return _pad(self.child.bounds(), self.thickness)
