"""The SDF primitives against brute force, and the CSG and transform rules."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from gen3d.data.procedural.sdf import (
    Box,
    Capsule,
    Cone,
    Cylinder,
    Difference,
    Intersection,
    Shell,
    SmoothUnion,
    Sphere,
    Torus,
    Transformed,
    Union,
    rotation_matrix,
)

N_SURFACE = 400_000


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _revolve(rng: np.random.Generator, radius: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points of a surface of revolution about Y given (radius, y) samples of its profile."""
    angle = rng.uniform(0, 2 * np.pi, len(y))
    return np.stack([radius * np.cos(angle), y, radius * np.sin(angle)], axis=-1)


def _profile(rng: np.random.Generator, polyline: list[tuple[float, float]]) -> np.ndarray:
    """Surface of revolution of a (radius, y) polyline, sampled by area."""
    segments = list(itertools.pairwise(polyline))
    weights = np.array([math.dist(a, b) * (a[0] + b[0]) / 2 + 1e-9 for a, b in segments])
    index = rng.choice(len(segments), N_SURFACE, p=weights / weights.sum())
    a = np.array([s[0] for s in segments])[index]
    b = np.array([s[1] for s in segments])[index]
    # Area-uniform along a segment of a surface of revolution: sample t with density ~ radius.
    u = rng.random(N_SURFACE)
    ra, rb = a[:, 0], b[:, 0]
    t = np.where(
        np.abs(rb - ra) < 1e-9,
        u,
        (np.sqrt(ra**2 + u * (rb**2 - ra**2)) - ra)
        / np.where(np.abs(rb - ra) < 1e-9, 1.0, rb - ra),
    )
    r = ra + t * (rb - ra)
    y = a[:, 1] + t * (b[:, 1] - a[:, 1])
    return _revolve(rng, r, y)


def _surface(name: str, rng: np.random.Generator) -> tuple[object, np.ndarray, object]:
    """(sdf, dense surface samples, exact inside test) for each primitive."""
    if name == "sphere":
        return (
            Sphere(0.7),
            0.7 * _unit(rng.normal(size=(N_SURFACE, 3))),
            (lambda p: np.linalg.norm(p, axis=-1) < 0.7),
        )
    if name == "box":
        half = np.array([0.6, 0.3, 0.45])
        p = rng.uniform(-half, half, size=(N_SURFACE, 3))
        axis = rng.integers(0, 3, N_SURFACE)
        p[np.arange(N_SURFACE), axis] = np.sign(rng.normal(size=N_SURFACE)) * half[axis]
        return Box(half), p, lambda q: np.all(np.abs(q) < half, axis=-1)
    if name == "cylinder":
        pts = _profile(rng, [(0.0, -0.4), (0.5, -0.4), (0.5, 0.4), (0.0, 0.4)])
        return (
            Cylinder(0.5, 0.4),
            pts,
            (lambda q: (np.hypot(q[:, 0], q[:, 2]) < 0.5) & (np.abs(q[:, 1]) < 0.4)),
        )
    if name == "cone":
        pts = _profile(rng, [(0.0, -0.5), (0.6, -0.5), (0.2, 0.5), (0.0, 0.5)])

        def inside(q: np.ndarray) -> np.ndarray:
            r_at_y = 0.6 + (q[:, 1] + 0.5) * (0.2 - 0.6)
            return (np.abs(q[:, 1]) < 0.5) & (np.hypot(q[:, 0], q[:, 2]) < r_at_y)

        return Cone(0.6, 0.2, 0.5), pts, inside
    if name == "torus":
        u, v = rng.uniform(0, 2 * np.pi, (2, N_SURFACE))
        r = 0.55 + 0.2 * np.cos(v)
        pts = np.stack([r * np.cos(u), 0.2 * np.sin(v), r * np.sin(u)], axis=-1)
        return (
            Torus(0.55, 0.2),
            pts,
            (lambda q: np.hypot(np.hypot(q[:, 0], q[:, 2]) - 0.55, q[:, 1]) < 0.2),
        )
    if name == "capsule":
        a, b = np.array([-0.4, -0.2, 0.1]), np.array([0.3, 0.4, -0.1])
        axis = _unit(b - a)
        dirs = _unit(rng.normal(size=(N_SURFACE, 3)))
        along = dirs @ axis
        t = rng.random(N_SURFACE)[:, None]
        side = a + t * (b - a) + 0.25 * _unit(dirs - along[:, None] * axis)
        caps = np.where(along[:, None] < 0, a, b) + 0.25 * dirs
        pts = np.concatenate([side, caps])
        capsule = Capsule(a, b, 0.25)
        return capsule, pts, lambda q: capsule(q) < 0
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["sphere", "box", "cylinder", "cone", "torus", "capsule"])
def test_primitive_distance_matches_brute_force(name: str) -> None:
    rng = np.random.default_rng(0)
    sdf, surface, inside = _surface(name, rng)
    queries = rng.uniform(-1.0, 1.0, size=(3000, 3))
    nearest, _ = cKDTree(surface).query(queries)
    d = sdf(queries)
    # The brute force over-estimates by at most the sample spacing.
    assert np.all(np.abs(d) <= nearest + 1e-6)
    assert np.all(np.abs(d) >= nearest - 0.02)
    clear = np.abs(d) > 0.01
    assert np.array_equal((d < 0)[clear], inside(queries)[clear])


def test_rounded_box_and_cylinder_are_inset_by_their_rounding() -> None:
    assert Box((0.5, 0.5, 0.5), rounding=0.1)(np.array([[1.0, 0.0, 0.0]]))[0] == pytest.approx(0.5)
    corner = Box((0.5, 0.5, 0.5), rounding=0.1)(np.array([[0.5, 0.5, 0.5]]))[0]
    assert corner == pytest.approx(math.sqrt(3) * 0.1 - 0.1)
    edge = Cylinder(0.5, 0.5, rounding=0.1)(np.array([[0.5, 0.5, 0.0]]))[0]
    assert edge == pytest.approx(math.sqrt(2) * 0.1 - 0.1)


def test_transforms_compose_into_one_node_with_the_same_field() -> None:
    rng = np.random.default_rng(1)
    box = Box((0.3, 0.1, 0.2))
    chained = box.rotate("z", 30).translate(0.2, 0.0, 0.1).scale(1.5).rotate("x", 45)
    assert isinstance(chained, Transformed) and chained.child is box
    p = rng.uniform(-1, 1, size=(500, 3))
    # Undo the transforms on the points by hand, last one first (row vectors: v @ R = R^T v).
    q = p @ rotation_matrix("x", 45)
    q = q / 1.5
    q = q - np.array([0.2, 0.0, 0.1])
    q = q @ rotation_matrix("z", 30)
    np.testing.assert_allclose(chained(p), box(q) * 1.5, atol=1e-12)
    lo, hi = chained.bounds()
    inside = p[chained(p) < 0]
    assert np.all(inside >= lo - 1e-9) and np.all(inside <= hi + 1e-9)


def test_csg_rules() -> None:
    a, b = Sphere(0.5), Sphere(0.5).translate(0.6, 0.0, 0.0)
    p = np.random.default_rng(2).uniform(-1.2, 1.2, size=(2000, 3))
    np.testing.assert_allclose((a | b)(p), np.minimum(a(p), b(p)))
    np.testing.assert_allclose((a & b)(p), np.maximum(a(p), b(p)))
    np.testing.assert_allclose((a - b)(p), np.maximum(a(p), -b(p)))
    assert isinstance(a - b, Difference) and isinstance(a & b, Intersection)
    assert isinstance(a | b, Union)
    smooth = SmoothUnion(a, b, k=0.2)(p)
    hard = np.minimum(a(p), b(p))
    assert np.all(smooth <= hard + 1e-12) and np.all(smooth >= hard - 0.2 / 4 - 1e-12)
    shell = Shell(a, 0.05)(p)
    np.testing.assert_allclose(shell, np.abs(a(p)) - 0.05)


def test_numpy_and_torch_agree_and_torch_is_differentiable() -> None:
    children = (
        Cone(0.4, 0.1, 0.3).rotate("x", 20),
        Difference(Box((0.3, 0.2, 0.3), 0.05), Cylinder(0.1, 0.5)).translate(0, -0.3, 0),
        Torus(0.3, 0.05).translate(0, 0.3, 0),
        Capsule((0, 0, 0), (0.5, 0.5, 0), 0.05),
    )
    p = np.random.default_rng(3).uniform(-1, 1, size=(1000, 3))
    for shape in (Union(*children), SmoothUnion(*children, k=0.05)):
        pt = torch.tensor(p, requires_grad=True)
        d = shape(pt)
        np.testing.assert_allclose(d.detach().numpy(), shape(p), atol=1e-12)
        (grad,) = torch.autograd.grad(d.sum(), pt)
        assert torch.all(grad.norm(dim=-1) <= 1.0 + 1e-6)  # 1-Lipschitz everywhere
    # A union of exact distances is exact outside: its gradient there has unit length.
    pt = torch.tensor(p, requires_grad=True)
    d = Union(*children)(pt)
    (grad,) = torch.autograd.grad(d.sum(), pt)
    np.testing.assert_allclose(grad.norm(dim=-1)[d.detach() > 0].numpy(), 1.0, atol=1e-6)
    assert Union(*children)(torch.zeros(4, 3)).dtype == torch.float32


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError, match="axis"):
        Sphere(1).rotate("w", 10)
    with pytest.raises(ValueError, match="scale"):
        Sphere(1).scale(0)
    with pytest.raises(ValueError):
        Union()
