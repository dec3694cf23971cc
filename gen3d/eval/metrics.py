"""Reconstruction metrics between a predicted and a reference shape (unit cube of side 2).

Conventions (the ones Occupancy Networks and 3DShape2VecSet report):

Between two meshes (``compare_meshes``) distances run from points sampled on one surface to
the *surface* of the other, not to the other's samples: point-to-point distances are capped
by the sample spacing (a mesh against itself scores F@0.01 = 0.89 with 50k samples of a
table, area 7), point-to-surface ones are not.

- Chamfer-L1: mean of the two directional mean nearest-neighbour distances;
- Chamfer-L2: mean of the two directional mean *squared* nearest-neighbour distances;
- F-score@tau: harmonic mean of precision (predicted points within tau of the reference)
  and recall (reference points within tau of the prediction);
- normal consistency: mean |cos| between each point's normal and its nearest neighbour's,
  over both directions;
- volume IoU: intersection over union of the insides, by uniform samples of the cube.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

InsideFn = Callable[[np.ndarray], np.ndarray]  # points (N, 3) -> bool (N,)


def surface_samples(
    mesh: trimesh.Trimesh, count: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points uniform by area on ``mesh`` and the normals of their faces."""
    if len(mesh.faces) == 0:
        raise ValueError("cannot sample a mesh with no faces")
    points, face = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points), np.asarray(mesh.face_normals[face])


def distance_to_surface(points: np.ndarray, mesh: trimesh.Trimesh) -> np.ndarray:
    """Distance (N,) from each point to the closest point of ``mesh``'s surface."""
    import point_cloud_utils as pcu

    vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int32)
    query = np.ascontiguousarray(points, dtype=np.float64)
    _, face, bary = pcu.closest_points_on_mesh(query, vertices, faces)
    closest = np.einsum("nk,nkc->nc", bary, vertices[faces[face]])
    return np.linalg.norm(query - closest, axis=1)


def f_score_from_distances(to_ref: np.ndarray, to_pred: np.ndarray, tau: float) -> float:
    """F-score at ``tau`` from the distances of predicted points to the reference
    (precision) and of reference points to the prediction (recall)."""
    precision, recall = float((to_ref < tau).mean()), float((to_pred < tau).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


#: a part counts as found when at least this share of its surface is within tau of the mesh
PART_FOUND_SHARE = 0.5
#: parts with fewer surface samples than this are not judged (hidden inside others, or tiny)
MIN_PART_POINTS = 16


def found_parts(
    part_of_point: np.ndarray,
    to_pred: np.ndarray,
    tau: float,
    share: float = PART_FOUND_SHARE,
    min_points: int = MIN_PART_POINTS,
) -> dict[int, bool]:
    """Per judged part (those with ``min_points`` reference points), whether the prediction
    has it: at least ``share`` of its reference surface points within ``tau`` of it.

    ``part_of_point (N,)`` names each reference surface point's part, ``to_pred (N,)`` its
    distance to the prediction."""
    return {
        int(part): bool((to_pred[part_of_point == part] < tau).mean() >= share)
        for part, points in zip(*np.unique(part_of_point, return_counts=True), strict=True)
        if points >= min_points
    }


def parts_found(part_of_point: np.ndarray, to_pred: np.ndarray, tau: float) -> float | None:
    """The share of a shape's parts that the prediction has (``found_parts``). F-scores weigh
    parts by area, so a table generated without its thin legs still scores F@0.05 0.92; here
    each leg counts as much as the top. None when no part is judged."""
    found = found_parts(part_of_point, to_pred, tau)
    return float(np.mean(list(found.values()))) if found else None


def distance_to_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Distance (N,) from each source point to its nearest target point."""
    return _nearest(source, target)[0]


def _nearest(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distance, index = cKDTree(target).query(source, workers=-1)
    return distance, index


def chamfer(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """``(Chamfer-L1, Chamfer-L2)`` between point sets ``(N, 3)`` and ``(M, 3)``."""
    to_ref, _ = _nearest(pred, ref)
    to_pred, _ = _nearest(ref, pred)
    l1 = 0.5 * (to_ref.mean() + to_pred.mean())
    l2 = 0.5 * ((to_ref**2).mean() + (to_pred**2).mean())
    return float(l1), float(l2)


def f_score(pred: np.ndarray, ref: np.ndarray, tau: float) -> float:
    """F-score at distance ``tau`` between point sets."""
    return f_score_from_distances(_nearest(pred, ref)[0], _nearest(ref, pred)[0], tau)


def normal_consistency(
    pred: np.ndarray, pred_normals: np.ndarray, ref: np.ndarray, ref_normals: np.ndarray
) -> float:
    """Mean |cos| between normals of nearest points, both directions (1 is perfect)."""
    _, to_ref = _nearest(pred, ref)
    _, to_pred = _nearest(ref, pred)
    a = np.abs((pred_normals * ref_normals[to_ref]).sum(axis=1))
    b = np.abs((ref_normals * pred_normals[to_pred]).sum(axis=1))
    return float(0.5 * (a.mean() + b.mean()))


def volume_iou(
    inside_pred: InsideFn,
    inside_ref: InsideFn,
    count: int = 100_000,
    seed: int = 0,
    bound: float = 1.0,
) -> float:
    """IoU of two insides, from ``count`` uniform samples of ``[-bound, bound]^3``."""
    points = np.random.default_rng(seed).uniform(-bound, bound, size=(count, 3))
    a, b = np.asarray(inside_pred(points), bool), np.asarray(inside_ref(points), bool)
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def mesh_inside(mesh: trimesh.Trimesh) -> InsideFn:
    """An inside test for a mesh, robust to holes (generalised winding numbers)."""
    from gen3d.data.inside import INSIDE_WINDING, clean_surface, winding_numbers

    surface = clean_surface(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    return lambda points: winding_numbers(surface, points) > INSIDE_WINDING


@dataclass(frozen=True)
class Reconstruction:
    chamfer_l1: float
    chamfer_l2: float
    f_score: dict[float, float]  # tau -> F-score
    normal_consistency: float
    volume_iou: float | None


def compare_meshes(
    pred: trimesh.Trimesh,
    ref: trimesh.Trimesh,
    *,
    count: int = 100_000,
    taus: tuple[float, ...] = (0.01, 0.02),
    iou: bool = True,
    seed: int = 0,
) -> Reconstruction:
    """Every metric above between two meshes, from ``count`` surface samples of each;
    Chamfer and F-score by point-to-surface distances (see the module doc)."""
    pred_points, pred_normals = surface_samples(pred, count, seed)
    ref_points, ref_normals = surface_samples(ref, count, seed + 1)
    to_ref = distance_to_surface(pred_points, ref)
    to_pred = distance_to_surface(ref_points, pred)
    return Reconstruction(
        chamfer_l1=float(0.5 * (to_ref.mean() + to_pred.mean())),
        chamfer_l2=float(0.5 * ((to_ref**2).mean() + (to_pred**2).mean())),
        f_score={tau: f_score_from_distances(to_ref, to_pred, tau) for tau in taus},
        normal_consistency=normal_consistency(pred_points, pred_normals, ref_points, ref_normals),
        volume_iou=volume_iou(mesh_inside(pred), mesh_inside(ref), seed=seed) if iou else None,
    )


#: the coarse yaw search's step and the fine one's (degrees)
YAW_STEP, FINE_YAW_STEP = 15.0, 2.5


def rotate_yaw(points: np.ndarray, degrees: float) -> np.ndarray:
    """``points`` turned by ``degrees`` about the up (+y) axis, right-handed."""
    from gen3d.data.procedural.sdf import rotation_matrix

    return np.asarray(points) @ rotation_matrix("y", degrees).T


def best_yaw(pred: np.ndarray, ref: np.ndarray, count: int = 4000, seed: int = 0) -> float:
    """The turn about the up axis (degrees in [-180, 180)) that brings point set ``pred``
    closest to ``ref`` (Chamfer-L1 on ``count`` points of each): every 15 degrees, then
    2.5-degree steps around the best.

    A photo fixes a shape but not which way the model should face it, so image-to-3D from an
    arbitrary view is also scored after this turn: a car generated whole but turned 90
    degrees is a right shape in a different frame, not a wrong shape."""
    rng = np.random.default_rng(seed)
    pred = pred[rng.choice(len(pred), min(count, len(pred)), replace=False)]
    ref = ref[rng.choice(len(ref), min(count, len(ref)), replace=False)]
    ref_tree = cKDTree(ref)

    def distance(degrees: float) -> float:
        turned = rotate_yaw(pred, degrees)
        to_ref = ref_tree.query(turned, workers=-1)[0]
        to_pred = cKDTree(turned).query(ref, workers=-1)[0]
        return float(to_ref.mean() + to_pred.mean())

    coarse = np.arange(0.0, 360.0, YAW_STEP)
    best = float(coarse[int(np.argmin([distance(a) for a in coarse]))])
    fine = best + np.arange(-YAW_STEP / 2, YAW_STEP / 2 + 1e-9, FINE_YAW_STEP)
    best = float(fine[int(np.argmin([distance(a) for a in fine]))])
    return float((best + 180.0) % 360.0 - 180.0)
