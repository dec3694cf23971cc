"""Reconstruction metrics against cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gen3d.eval.metrics import (
    best_yaw,
    chamfer,
    compare_meshes,
    f_score,
    mesh_inside,
    normal_consistency,
    parts_found,
    rotate_yaw,
    volume_iou,
)


def test_chamfer_and_f_score_on_single_points() -> None:
    a, b = np.array([[0.0, 0.0, 0.0]]), np.array([[0.3, 0.4, 0.0]])  # 0.5 apart
    l1, l2 = chamfer(a, b)
    assert l1 == pytest.approx(0.5) and l2 == pytest.approx(0.25)
    assert f_score(a, b, 0.4) == 0.0 and f_score(a, b, 0.6) == 1.0


def test_chamfer_is_asymmetric_per_direction_and_averaged() -> None:
    pred = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    ref = np.array([[0.0, 0.0, 0.0]])
    # pred -> ref: distances 0 and 1 (mean 0.5); ref -> pred: 0. Averaged: 0.25.
    l1, l2 = chamfer(pred, ref)
    assert l1 == pytest.approx(0.25) and l2 == pytest.approx(0.25)
    # precision 1/2, recall 1: F = 2 * 0.5 * 1 / 1.5
    assert f_score(pred, ref, 0.1) == pytest.approx(2 / 3)


def test_concentric_spheres() -> None:
    inner = trimesh.creation.icosphere(subdivisions=5, radius=0.5)
    outer = trimesh.creation.icosphere(subdivisions=5, radius=0.6)
    result = compare_meshes(inner, outer, count=20_000)
    assert result.chamfer_l1 == pytest.approx(0.1, abs=0.003)
    assert result.chamfer_l2 == pytest.approx(0.01, abs=0.001)
    assert result.f_score[0.01] == 0.0 and result.f_score[0.02] == 0.0
    assert result.normal_consistency > 0.99
    assert result.volume_iou == pytest.approx((0.5 / 0.6) ** 3, abs=0.01)
    # Point-to-surface distances: a mesh against itself is perfect whatever the sample count
    # (point-to-point F@0.01 would be capped by the spacing of 2,000 samples).
    same = compare_meshes(inner, inner, count=2_000)
    assert same.f_score[0.01] == 1.0 and same.chamfer_l1 < 1e-6 and same.volume_iou == 1.0
    a, b = (trimesh.sample.sample_surface(inner, 2_000, seed=s)[0] for s in (0, 1))
    assert f_score(a, b, 0.01) < 0.9


def test_normal_consistency_of_perpendicular_normals_is_zero() -> None:
    points = np.random.default_rng(0).uniform(size=(100, 3))
    up = np.tile([0.0, 1.0, 0.0], (100, 1))
    side = np.tile([1.0, 0.0, 0.0], (100, 1))
    assert normal_consistency(points, up, points, side) == pytest.approx(0.0)
    assert normal_consistency(points, up, points, -up) == pytest.approx(1.0)  # unsigned


def test_volume_iou_of_overlapping_boxes() -> None:
    # Boxes [-0.5, 0.5]^3 and the same shifted by 0.5 in x: intersection 0.5, union 1.5.
    a = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    b = a.copy()
    b.apply_translation((0.5, 0.0, 0.0))
    iou = volume_iou(mesh_inside(a), mesh_inside(b), count=200_000)
    assert iou == pytest.approx(1 / 3, abs=0.01)
    assert volume_iou(lambda p: np.zeros(len(p), bool), lambda p: np.zeros(len(p), bool)) == 1.0


def test_best_yaw_finds_the_turn_between_a_shape_and_itself_turned() -> None:
    """Image to 3D from any side is also scored after this turn (a photo does not say which
    way the model should face a shape): it must undo a turn, and only that."""
    bar = trimesh.creation.box(extents=(1.2, 0.5, 0.4))
    knob = trimesh.creation.box(extents=(0.3, 0.3, 0.3))
    knob.apply_translation((0.6, 0.3, 0.0))  # one end only: no symmetric turn fits as well
    shape = trimesh.util.concatenate([bar, knob])
    points = np.asarray(trimesh.sample.sample_surface(shape, 6000, seed=1)[0])
    assert best_yaw(points, points) == pytest.approx(0.0, abs=1e-9)
    for turn in (70.0, -130.0, 180.0):
        found = best_yaw(rotate_yaw(points, turn), points)
        assert (found + turn + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=2.5)
    turned = rotate_yaw(points, 70.0)
    assert f_score(turned, points, 0.05) < 0.5
    assert f_score(rotate_yaw(turned, best_yaw(turned, points)), points, 0.05) > 0.95


def test_parts_found_counts_each_part_once_whatever_its_size() -> None:
    # a big part (900 points) the prediction covers, a small one (40) it misses by 0.1, and a
    # speck (5 points) too small to judge
    part_of_point = np.repeat([0, 1, 2], [900, 40, 5])
    to_pred = np.concatenate([np.full(900, 0.01), np.full(40, 0.1), np.full(5, 0.1)])
    assert parts_found(part_of_point, to_pred, tau=0.05) == 0.5
    assert parts_found(part_of_point, to_pred, tau=0.2) == 1.0
    # a part is found when at least half of it is near: 20 of the 40 points moved close
    to_pred[900:920] = 0.0
    assert parts_found(part_of_point, to_pred, tau=0.05) == 1.0
    assert parts_found(np.zeros(5, int), np.zeros(5), tau=0.05) is None
