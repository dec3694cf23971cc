"""View estimation: the camera a photo of a mesh was taken from."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from gen3d.data.procedural import generate_shape
from gen3d.image_view import prepared_photo
from gen3d.mesh import extract_hierarchical, vertex_colours
from render import Cameras, RenderError, RenderMesh, render_mesh
from render.pose import PoseSettings, ViewEstimate, _pattern_search, estimate_view


def _direction(azimuth: float, elevation: float) -> np.ndarray:
    a, e = math.radians(azimuth), math.radians(elevation)
    return np.array([math.cos(e) * math.sin(a), math.sin(e), math.cos(e) * math.cos(a)])


def _angle(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.degrees(math.acos(float(np.clip(_direction(*a) @ _direction(*b), -1, 1))))


@pytest.fixture(scope="module")
def chair() -> RenderMesh:
    shape = generate_shape("chair", 1001)
    mesh = extract_hierarchical(shape, 64).mesh
    vertex_colours(shape, mesh)
    return RenderMesh.from_trimesh(mesh)


def _photo(
    mesh: RenderMesh, view: tuple[float, float], roll: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    cameras = Cameras.orbit([view[0]], view[1], resolution=192).rolled(roll)
    cameras = cameras.framed(mesh.vertices, 0.1)
    out = render_mesh(mesh, cameras, shading="lambert")
    return out.color[0].clamp(0, 1), out.mask[0]


@pytest.mark.parametrize("view", [(30.0, 20.0), (205.0, 35.0), (290.0, 5.0)])
def test_the_view_of_a_photo_is_found_within_a_few_degrees(chair, view):
    image, mask = _photo(chair, view)
    found = estimate_view(chair, image, mask)
    assert _angle(found.view, view) < 5.0
    assert found.iou > 0.85  # thin legs lose pixels at 96^2
    assert found.colour_error is not None and found.colour_error < 0.2


@pytest.mark.parametrize(("view", "roll"), [((205.0, 25.0), 8.0), ((60.0, 10.0), -13.0)])
def test_a_photo_taken_askew_is_found_with_its_roll(chair, view, roll):
    image, mask = _photo(chair, view, roll)
    found = estimate_view(chair, image, mask, prior=(30.0, 20.0))
    assert _angle(found.view, view) < 5.0
    assert found.roll == pytest.approx(roll, abs=2.0)
    assert found.as_metadata()["roll"] == round(found.roll, 1)
    level = estimate_view(chair, image, mask, settings=PoseSettings(max_roll=0))
    assert level.roll == 0.0 and level.iou < found.iou - 0.1  # what a level search finds


def test_a_level_photo_keeps_no_roll(chair):
    found = estimate_view(chair, *_photo(chair, (205.0, 25.0)))
    assert found.roll == 0.0 and "roll" not in found.as_metadata()


def test_colour_tells_apart_views_whose_silhouettes_mirror_each_other():
    # A stool is symmetric front to back, so the silhouette alone cannot tell its front
    # from its back; the colours, different on the two sides here, can.
    shape = generate_shape("stool", 1012)
    mesh = extract_hierarchical(shape, 64).mesh
    vertex_colours(shape, mesh)
    colours = np.asarray(mesh.visual.vertex_colors).copy()
    colours[np.asarray(mesh.vertices)[:, 2] > 0, :3] = (200, 30, 30)  # a red front
    colours[np.asarray(mesh.vertices)[:, 2] <= 0, :3] = (30, 30, 200)  # a blue back
    mesh.visual.vertex_colors = colours
    drawable = RenderMesh.from_trimesh(mesh)
    view = (100.0, 30.0)  # sees the red front half on the right
    image, mask = _photo(drawable, view)
    found = estimate_view(drawable, image, mask)
    assert _angle(found.view, view) < 5.0


def test_a_photo_with_no_object_is_refused(chair):
    image = torch.ones(64, 64, 3)
    with pytest.raises(RenderError, match="mask is empty"):
        estimate_view(chair, image, torch.zeros(64, 64, dtype=torch.bool))
    with pytest.raises(RenderError, match=r"need image \(H, W, 3\)"):
        estimate_view(chair, image[..., :1], torch.ones(64, 64, dtype=torch.bool))
    with pytest.raises(RenderError, match="pose resolution"):
        PoseSettings(resolution=4)
    with pytest.raises(RenderError, match="polish_samples"):
        PoseSettings(polish_samples=12)


def test_framed_cameras_fill_the_frame_as_a_prepared_photo(chair):
    cameras = Cameras.orbit([0.0, 120.0], [10.0, 50.0], resolution=128).framed(chair.vertices, 0.1)
    masks = render_mesh(chair, cameras, shading="albedo", antialias=False).mask
    for mask in masks:
        rows, columns = torch.nonzero(mask, as_tuple=True)
        height = int(rows.max() - rows.min()) + 1
        width = int(columns.max() - columns.min()) + 1
        assert max(height, width) == pytest.approx(0.8 * 128, abs=2)  # 1 - 2 * margin
        centre = ((rows.max() + rows.min()) / 2, (columns.max() + columns.min()) / 2)
        assert float(centre[0]) == pytest.approx(63.5, abs=1.5)
        assert float(centre[1]) == pytest.approx(63.5, abs=1.5)


def test_where_every_side_looks_alike_the_prior_view_is_kept():
    # A plain cylinder looks the same from every azimuth: the photo cannot say which side it
    # shows, so the view the pipeline assumed (the prior) is kept.
    import trimesh

    cylinder = trimesh.creation.cylinder(radius=0.5, height=1.2, sections=64)
    cylinder.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    drawable = RenderMesh.from_trimesh(cylinder)
    image, mask = _photo(drawable, (200.0, 20.0))
    found = estimate_view(drawable, image, mask, prior=(30.0, 20.0))
    assert _angle(found.view, (30.0, 20.0)) < 5.0
    assert found.iou > 0.9


def test_a_slim_round_object_is_seen_from_its_true_elevation():
    # A bottle looks alike from every elevation but for the curve of its ends and its
    # outline's height, both a fraction of a pixel at the search's resolution: whole pixels
    # put this one several degrees too high, and its bands a band off when painted.
    import trimesh

    bottle = trimesh.creation.cylinder(radius=0.28, height=1.7, sections=64)
    bottle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    drawable = RenderMesh.from_trimesh(bottle)
    for elevation in (8.0, 14.0):
        cameras = Cameras.orbit([40.0], elevation, resolution=384).framed(drawable.vertices, 0.1)
        colour = render_mesh(drawable, cameras, shading="lambert").color[0].clamp(0, 1)
        photo = Image.fromarray((colour.numpy() * 255 + 0.5).astype(np.uint8))
        found = estimate_view(drawable, *prepared_photo(photo, 384, 0.1))
        assert found.elevation == pytest.approx(elevation, abs=1.0)


class _Landscape:
    """A stand-in for the photo's scores: a broad hill round (200, 30), and round (5.6, 0) a
    gentle slope up to a spike a fraction of a degree wide (a side that matches the photo
    only when seen from just there)."""

    def score(self, cameras: list[tuple[float, float, float]]) -> list[ViewEstimate]:
        found = []
        for azimuth, elevation, roll in cameras:
            if abs(azimuth - 5.625) < 0.3 and abs(elevation) < 0.3:
                score = 0.99
            elif azimuth < 100.0:
                score = 0.80 - 0.001 * abs(azimuth - 5.625) - 0.001 * abs(elevation)
            else:
                score = 0.90 - 0.0001 * math.hypot(azimuth - 200.0, elevation - 30.0)
            found.append(ViewEstimate(azimuth, elevation, score, None, score, roll))
        return found


def test_each_coarse_candidate_is_searched_on_its_own() -> None:
    # Four candidates on a broad hill and the true side's, which scores lower until the
    # search comes within a degree of it. Ranked together, the hill's neighbours took every
    # place at the first step, and the true side (a tower that looks alike from four sides,
    # its true side 4th on the coarse grid) was never searched.
    landscape = _Landscape()
    seeds = [(200.0, 30.0), (195.0, 30.0), (205.0, 30.0), (200.0, 25.0), (0.0, 0.0)]
    candidates = landscape.score([(a, e, 0.0) for a, e in seeds])
    found = _pattern_search(landscape, candidates, 7.5, PoseSettings())
    assert (found.azimuth, found.elevation, found.score) == (5.625, 0.0, 0.99)
