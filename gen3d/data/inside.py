"""Inside/outside for real-world meshes: a cleaned surface and winding-number signed distance.

A generalised winding number (Jacobson et al. 2013; fast evaluation by Barill et al. 2018, as
point-cloud-utils implements it) is ~1 inside and ~0 outside even for surfaces with holes,
which parity ray casting is not. It still needs consistently oriented triangles, and assets
often have none: double-sided faces (every triangle twice, once each way, so the winding
number is 0 everywhere), split seams, flipped patches. ``clean_surface`` fixes those first:
it merges vertices by position, drops duplicate faces in either orientation and degenerate
ones, makes winding consistent per connected patch and turns each patch outwards.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import point_cloud_utils as pcu
import trimesh


@dataclass(frozen=True)
class CleanSurface:
    """Triangles ready for distance queries; ``origin[i]`` is face i's index in the input."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int32
    origin: np.ndarray  # (F,) int64
    #: fraction of faces that share no edge with any other face (1.0 for a triangle soup)
    soup_fraction: float


def _signed_volume(triangles: np.ndarray) -> float:
    centre = triangles.reshape(-1, 3).mean(axis=0)
    a, b, c = (triangles[:, i] - centre for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def clean_surface(vertices: np.ndarray, faces: np.ndarray) -> CleanSurface:
    """Merge, deduplicate and orient ``faces`` for winding numbers (see the module doc)."""
    mesh = trimesh.Trimesh(vertices, faces, process=False, validate=False)
    origin = np.arange(len(faces), dtype=np.int64)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)

    keep = np.asarray(mesh.nondegenerate_faces(), dtype=bool)
    mesh.update_faces(keep)
    origin = origin[keep]
    unique = np.asarray(mesh.unique_faces(), dtype=bool)  # either orientation counts as one
    mesh.update_faces(unique)
    origin = origin[unique]
    mesh.remove_unreferenced_vertices()
    if len(mesh.faces) == 0:
        return CleanSurface(np.zeros((0, 3)), np.zeros((0, 3), np.int32), origin, 0.0)

    adjacency = mesh.face_adjacency
    connected = np.zeros(len(mesh.faces), dtype=bool)
    connected[adjacency.ravel()] = True
    soup_fraction = float(1.0 - connected.mean())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trimesh.repair.fix_winding(mesh)
    faces_out = np.asarray(mesh.faces, dtype=np.int64).copy()
    triangles = np.asarray(mesh.vertices)[faces_out]
    for group in trimesh.graph.connected_components(
        adjacency, nodes=np.arange(len(faces_out)), min_len=1
    ):
        if len(group) >= 4 and _signed_volume(triangles[group]) < 0:
            faces_out[group] = faces_out[group][:, ::-1]
    return CleanSurface(
        vertices=np.ascontiguousarray(mesh.vertices, dtype=np.float64),
        faces=np.ascontiguousarray(faces_out, dtype=np.int32),
        origin=origin,
        soup_fraction=soup_fraction,
    )


def winding_numbers(surface: CleanSurface, points: np.ndarray) -> np.ndarray:
    """Generalised winding number of the surface at points (N, 3): ~1 inside, ~0 outside."""
    return pcu.triangle_soup_fast_winding_number(
        surface.vertices, surface.faces, np.ascontiguousarray(points, dtype=np.float64)
    )


def exact_winding_numbers(
    vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, chunk: int = 64
) -> np.ndarray:
    """The exact generalised winding number: the solid-angle sum over all triangles (van
    Oosterom & Strackee's formula), with no tree and no approximation. O(points x faces):
    the reference that tests and benchmarks hold ``winding_numbers`` against."""
    tri = np.asarray(vertices, dtype=np.float64)[faces]
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        p = np.asarray(points[start : start + chunk], dtype=np.float64)[:, None, :]
        a, b, c = (tri[None, :, i, :] - p for i in range(3))
        la, lb, lc = (np.linalg.norm(v, axis=-1) for v in (a, b, c))
        det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
        div = (
            la * lb * lc
            + np.einsum("pfi,pfi->pf", a, b) * lc
            + np.einsum("pfi,pfi->pf", a, c) * lb
            + np.einsum("pfi,pfi->pf", b, c) * la
        )
        out[start : start + chunk] = (2 * np.arctan2(det, div)).sum(axis=1) / (4 * np.pi)
    return out


#: Winding number above which a point is inside. Surfaces are oriented outwards by
#: ``clean_surface``, so a negative winding number (a leftover inverted patch) is outside.
INSIDE_WINDING = 0.5


def signed_distance(
    surface: CleanSurface, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sdf (N,), closest face (N,), closest point (N, 3))``; the sdf is negative inside."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    distance, face, bary = pcu.closest_points_on_mesh(points, surface.vertices, surface.faces)
    # point-cloud-utils drops the leading axis for a single point
    face, bary = np.reshape(face, -1), np.reshape(bary, (-1, 3))
    closest = np.einsum("nk,nkc->nc", bary, surface.vertices[surface.faces[face]])
    distance = np.linalg.norm(points - closest, axis=1)
    inside = winding_numbers(surface, points) > INSIDE_WINDING
    return np.where(inside, -distance, distance), face, closest
