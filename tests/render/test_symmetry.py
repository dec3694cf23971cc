"""Carrying a photo's colours round a symmetric shape (``render.symmetry``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import trimesh

from render.bake import bake_texture
from render.camera import Cameras
from render.mesh import RenderMesh
from render.refine import RefineResult, RefineSettings, TextureSampler, psnr, refine_texture
from render.symmetry import TURNS, carry_round, mirror_planes, symmetric_turns
from render.uv import unwrap_uv


def _upright(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """``mesh`` (trimesh makes cylinders along z) turned so that z points up (+y)."""
    mesh = mesh.copy()
    mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    return mesh


def _turns(mesh: trimesh.Trimesh) -> list[float]:
    return symmetric_turns(torch.from_numpy(mesh.vertices).float(), torch.from_numpy(mesh.faces))


def _bands(points: torch.Tensor) -> torch.Tensor:
    """Colour by height only: stripes round a bottle."""
    wave = torch.sin(9.0 * points[:, 1])
    return torch.stack([0.5 + 0.4 * wave, 0.5 - 0.3 * wave, 0.3 + 0.2 * points[:, 1]], -1)


@pytest.fixture(scope="module")
def cylinder() -> RenderMesh:
    shape = _upright(trimesh.creation.cylinder(radius=0.5, height=1.2, sections=64))
    unwrapped = unwrap_uv(shape.vertices, shape.faces, texture_size=256)
    return RenderMesh(
        torch.from_numpy(unwrapped.vertices).float(),
        torch.from_numpy(unwrapped.faces),
        uv=torch.from_numpy(unwrapped.uv),
        texture=torch.zeros(128, 128, 3),
    )


def test_the_turns_a_shape_is_symmetric_under_are_found() -> None:
    cylinder = _upright(trimesh.creation.cylinder(radius=0.5, height=1.2, sections=64))
    assert _turns(cylinder) == list(TURNS)  # round: every turn
    assert _turns(trimesh.creation.box((1.0, 0.6, 1.0))) == [90.0, 180.0, 270.0]
    assert _turns(trimesh.creation.box((1.0, 0.6, 0.6))) == [180.0]
    # A mug: a handle on the side breaks every turn.
    handle = trimesh.creation.box((0.3, 0.6, 0.12))
    handle.apply_translation((0.6, 0.0, 0.0))
    assert _turns(trimesh.util.concatenate([cylinder, handle])) == []
    # Off the upright axis: a cylinder lying down is symmetric under a half turn only.
    lying = trimesh.creation.cylinder(radius=0.5, height=1.2, sections=64)
    lying.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    assert _turns(lying) == [180.0]


@dataclass
class _FromTheFront:
    """A mesh refined against one view of a known texture, without and with ``symmetry``."""

    plain: RefineResult
    carried: RefineResult
    front: Cameras
    reference: torch.Tensor  # the view's render of the known texture
    back_psnr: Callable[[torch.Tensor], float]  # a texture's PSNR seen from behind


def _refined_from_the_front(
    mesh: RenderMesh, pattern: Callable[[torch.Tensor], torch.Tensor], azimuth: float
) -> _FromTheFront:
    """``mesh`` (its texture the start) refined for 40 steps against ``pattern``'s colours
    seen from ``azimuth``, scored from the opposite side."""
    truth, _ = bake_texture(mesh.vertices, mesh.faces, mesh.uv, pattern, 128)
    front = Cameras.orbit([azimuth], 15.0, resolution=128)
    behind = TextureSampler(mesh, Cameras.orbit([azimuth + 180.0], 15.0, resolution=128))
    reference = TextureSampler(mesh, front)(truth)

    def back_psnr(texture: torch.Tensor) -> float:
        return psnr(behind(texture), behind(truth), behind.covered)

    plain, carried = (
        refine_texture(mesh, front, reference, settings=RefineSettings(steps=40, symmetry=on))
        for on in (False, True)
    )
    return _FromTheFront(plain, carried, front, reference, back_psnr)


def test_refinement_carries_the_photos_colours_round_a_round_shape(cylinder) -> None:
    """One view shows the front of a striped cylinder whose texture starts grey: refinement
    paints the front, and with ``symmetry`` the back too."""
    start = cylinder.with_texture(torch.full((128, 128, 3), 0.5))
    refined = _refined_from_the_front(start, _bands, 30.0)
    plain, carried, back_psnr = refined.plain, refined.carried, refined.back_psnr
    assert plain.symmetric_turns == [] and plain.carried == 0.0
    assert back_psnr(plain.texture) < back_psnr(start.texture) + 0.5  # the top, seen by both
    assert carried.symmetric_turns == list(TURNS)
    assert carried.mirror_plane is None  # round: carried by turns, not mirrored
    assert 0.3 < carried.carried < 0.8  # the sides the view does not see
    assert back_psnr(carried.texture) > back_psnr(start.texture) + 8.0
    # The front is the refinement's own: carrying only fills what it did not see.
    sampler = TextureSampler(cylinder, refined.front)
    seen, reference = sampler.covered, refined.reference
    assert psnr(sampler(carried.texture), reference, seen) == pytest.approx(
        psnr(sampler(plain.texture), reference, seen), abs=0.3
    )


def test_a_label_on_the_seen_side_is_not_copied_round(cylinder) -> None:
    """The back takes the median of the seen points its turns land on, so a mark on a small
    part of the front (a label) stays on the front."""

    def labelled(points: torch.Tensor) -> torch.Tensor:
        colour = _bands(points)
        angle = torch.rad2deg(torch.atan2(points[:, 0], points[:, 2]))  # 0: facing +z
        label = (angle.abs() < 12.0) & (points[:, 1].abs() < 0.3)
        return torch.where(label[:, None], torch.tensor([0.05, 0.05, 0.9]), colour)

    texture, _ = bake_texture(cylinder.vertices, cylinder.faces, cylinder.uv, labelled, 128)
    front = Cameras.orbit([0.0], 10.0, resolution=128)  # looking at the label
    sampler = TextureSampler(cylinder, front)
    mask = sampler.covered
    result = carry_round(cylinder.with_texture(texture), front, mask, list(TURNS))
    back = Cameras.orbit([180.0], 10.0, resolution=128)
    behind = TextureSampler(cylinder, back)
    seen_back = behind(result.texture)[behind.covered]
    blue = (seen_back[:, 2] > 0.7) & (seen_back[:, 0] < 0.2)
    assert result.carried > 0.3
    assert float(blue.float().mean()) < 0.01  # no label behind
    truth, _ = bake_texture(cylinder.vertices, cylinder.faces, cylinder.uv, _bands, 128)
    assert psnr(behind(result.texture), behind(truth), behind.covered) > 22.0


def test_carrying_colour_needs_a_texture(cylinder) -> None:
    from render.backend import RenderError

    bare = RenderMesh(cylinder.vertices, cylinder.faces)
    with pytest.raises(RenderError, match="textured mesh"):
        carry_round(bare, Cameras.orbit([0.0], 10.0, resolution=32), torch.ones(1, 32, 32), [90.0])


def test_a_mark_is_not_copied_where_fewer_than_three_turns_land() -> None:
    """A square box seen from the front: its back lands on the front under a half turn only,
    and one candidate would copy the front's door onto the back; it keeps its own colour."""
    box = trimesh.creation.box((1.0, 1.2, 1.0))
    unwrapped = unwrap_uv(box.vertices, box.faces, texture_size=256)
    vertices = torch.from_numpy(unwrapped.vertices).float()
    faces, uv = torch.from_numpy(unwrapped.faces), torch.from_numpy(unwrapped.uv)

    def door(points: torch.Tensor) -> torch.Tensor:
        front = (points[:, 2] > 0.49) & (points[:, 0].abs() < 0.2) & (points[:, 1] < 0.0)
        return torch.where(front[:, None], torch.tensor([0.05, 0.05, 0.05]), _bands(points))

    texture, _ = bake_texture(vertices, faces, uv, door, 128)
    mesh = RenderMesh(vertices, faces, uv=uv, texture=texture)
    turns = symmetric_turns(vertices, faces)
    assert turns == [90.0, 180.0, 270.0]
    front = Cameras.orbit([0.0], 10.0, resolution=128)
    result = carry_round(mesh, front, TextureSampler(mesh, front).covered, turns)
    assert result.carried == 0.0
    assert torch.equal(result.texture, texture)


def _mug() -> trimesh.Trimesh:
    """A cylinder with a handle on its +x side: no turn maps it onto itself, but it is its
    own mirror image across the upright plane through the handle (normal +z: azimuth 90)."""
    body = _upright(trimesh.creation.cylinder(radius=0.5, height=1.2, sections=64))
    handle = trimesh.creation.box((0.3, 0.6, 0.12))
    handle.apply_translation((0.6, 0.0, 0.0))
    return trimesh.util.concatenate([body, handle])


def _planes(mesh: trimesh.Trimesh) -> list[float]:
    return mirror_planes(torch.from_numpy(mesh.vertices).float(), torch.from_numpy(mesh.faces))


def test_the_mirror_planes_of_a_shape_are_found_whichever_way_it_faces() -> None:
    mug = _mug()
    assert _turns(mug) == []
    assert _planes(mug) == [pytest.approx(90.0, abs=0.5)]
    # Turned 37 degrees about the upright axis (its bounding box no longer centred on the
    # plane), the plane turns with it.
    turned = mug.copy()
    turned.apply_transform(trimesh.transformations.rotation_matrix(np.radians(37.0), [0, 1, 0]))
    assert _planes(turned) == [pytest.approx(53.0, abs=0.5)]
    # A box twice as wide as deep is mirrored across two planes; a knob off both breaks them.
    assert sorted(_planes(trimesh.creation.box((1.0, 0.6, 0.5)))) == [0.0, 90.0]
    knob = trimesh.creation.box((0.25, 0.25, 0.25))
    knob.apply_translation((0.3, 0.2, 0.35))
    assert _planes(trimesh.util.concatenate([mug, knob])) == []


@pytest.fixture(scope="module")
def mug() -> RenderMesh:
    shape = _mug()
    unwrapped = unwrap_uv(shape.vertices, shape.faces, texture_size=256)
    return RenderMesh(
        torch.from_numpy(unwrapped.vertices).float(),
        torch.from_numpy(unwrapped.faces),
        uv=torch.from_numpy(unwrapped.uv),
        texture=torch.full((128, 128, 3), 0.5),
    )


def test_refinement_mirrors_the_photos_colours_onto_the_far_side_of_a_bilateral_shape(
    mug,
) -> None:
    """A mug seen from its +z side, its texture starting grey: with ``symmetry`` the far
    (-z) side takes the colours of its mirror image; without, it keeps the grey."""

    def mirrored_pattern(points: torch.Tensor) -> torch.Tensor:
        # The same across the plane z = 0: bands by height, shading by x.
        return _bands(points) * (0.75 + 0.25 * torch.tanh(3.0 * points[:, :1]))

    refined = _refined_from_the_front(mug, mirrored_pattern, 10.0)
    plain, mirrored, back_psnr = refined.plain, refined.carried, refined.back_psnr
    assert plain.mirror_plane is None and plain.carried == 0.0
    assert mirrored.symmetric_turns == []
    assert mirrored.mirror_plane == pytest.approx(90.0, abs=0.5)
    assert 0.2 < mirrored.carried < 0.7
    assert back_psnr(mirrored.texture) > back_psnr(plain.texture) + 6.0


def test_halves_the_photo_shows_coloured_unlike_are_not_mirrored(mug, monkeypatch) -> None:
    """A mug red on its +z half and blue on its -z half, seen from between +z and its
    handle (+x): the photo shows both halves near the handle, and they differ, so the blue
    half is not painted red."""
    import render.symmetry

    def halves(points: torch.Tensor) -> torch.Tensor:
        red, blue = torch.tensor([0.8, 0.1, 0.1]), torch.tensor([0.1, 0.1, 0.8])
        return torch.where(points[:, 2:] > 0.0, red, blue)

    texture, _ = bake_texture(mug.vertices, mug.faces, mug.uv, halves, 128)
    painted = mug.with_texture(texture)
    view = Cameras.orbit([45.0], 15.0, resolution=128)
    shown = TextureSampler(painted, view).covered
    planes = mirror_planes(mug.vertices, mug.faces)
    result = carry_round(painted, view, shown, [], planes)
    assert result.carried == 0.0 and result.mirror is None
    assert torch.equal(result.texture, texture)
    # Without the check, the far half would be mirrored from the near one.
    monkeypatch.setattr(render.symmetry, "MIRROR_AGREEMENT", 0.0)
    unchecked = carry_round(painted, view, shown, [], planes)
    assert unchecked.carried > 0.1 and unchecked.mirror == pytest.approx(90.0, abs=0.5)
