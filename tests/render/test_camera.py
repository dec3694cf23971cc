"""Camera conventions: OpenGL look-at and projections, orbits, and pixel rays."""

from __future__ import annotations

import pytest
import torch

from render.camera import CameraError, Cameras, look_at, orbit_eyes, orthographic, perspective


def _apply(matrix: torch.Tensor, point: tuple[float, float, float]) -> torch.Tensor:
    return matrix @ torch.tensor([*point, 1.0])


def test_look_at_puts_the_eye_at_the_origin_and_the_target_down_minus_z() -> None:
    view = look_at((1.0, 2.0, 3.0), (0.0, 0.0, 0.0))
    assert torch.allclose(_apply(view, (1.0, 2.0, 3.0))[:3], torch.zeros(3), atol=1e-6)
    target = _apply(view, (0.0, 0.0, 0.0))[:3]
    assert torch.allclose(target, torch.tensor([0.0, 0.0, -(14.0**0.5)]), atol=1e-5)
    # Straight above: still a valid rotation.
    top = look_at((0.0, 5.0, 0.0))
    assert torch.allclose(top[:3, :3] @ top[:3, :3].T, torch.eye(3), atol=1e-6)
    with pytest.raises(CameraError):
        look_at((1.0, 1.0, 1.0), (1.0, 1.0, 1.0))


def test_projections_map_near_and_far_planes_to_ndc_depth_range() -> None:
    projection = perspective(90.0, 1.0, near=0.5, far=10.0)
    near = _apply(projection, (0.5, 0.0, -0.5))
    far = _apply(projection, (0.0, 10.0, -10.0))
    assert near[2] / near[3] == pytest.approx(-1.0) and near[0] / near[3] == pytest.approx(1.0)
    assert far[2] / far[3] == pytest.approx(1.0) and far[1] / far[3] == pytest.approx(1.0)
    ortho = orthographic(4.0, 2.0, near=1.0, far=3.0)
    corner = _apply(ortho, (4.0, 2.0, -3.0))
    assert corner.tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    with pytest.raises(CameraError, match="field of view"):
        perspective(0.0)
    with pytest.raises(CameraError, match="near"):
        perspective(40.0, near=2.0, far=1.0)


def test_orbit_and_turntable() -> None:
    eyes = orbit_eyes([0.0, 90.0], 0.0, radius=2.0)
    assert torch.allclose(eyes, torch.tensor([[0.0, 0.0, 2.0], [2.0, 0.0, 0.0]]), atol=1e-6)
    cameras = Cameras.turntable(8, elevation_degrees=30.0, resolution=(32, 48))
    assert len(cameras) == 8 and cameras.resolution == (32, 48)
    assert torch.allclose(cameras.eyes.norm(dim=-1), torch.full((8,), 3.5), atol=1e-5)
    assert torch.allclose(cameras.forward, -torch.nn.functional.normalize(cameras.eyes), atol=1e-5)
    assert len(cameras[2:5]) == 3 and len(cameras[0]) == 1
    with pytest.raises(CameraError, match="resolution"):
        Cameras.orbit([0.0], resolution=(0, 10))


def test_a_rolled_camera_turns_the_picture_counter_clockwise() -> None:
    cameras = Cameras.orbit([0.0, 0.0], 0.0)  # looking down -z at the origin
    right = torch.tensor([[0.5, 0.0, 0.0]])  # to the right of the picture's centre
    clip = cameras.rolled([90.0, -30.0]).to_clip(right)
    ndc = clip[..., :2] / clip[..., 3:]
    assert ndc[0, 0, 0].abs() < 1e-6 and ndc[0, 0, 1] > 0  # turned up: counter-clockwise
    assert torch.atan2(ndc[1, 0, 1], ndc[1, 0, 0]).rad2deg() == pytest.approx(-30.0, abs=1e-4)
    assert torch.allclose(cameras.rolled(0.0).view, cameras.view)
    assert torch.allclose(cameras.rolled(45.0).eyes, cameras.eyes, atol=1e-6)  # same place
    with pytest.raises(CameraError, match="roll"):
        cameras.rolled([1.0, 2.0, 3.0])


@pytest.mark.parametrize("orthographic_height", [None, 3.0])
def test_pixel_rays_project_back_to_their_pixel_centres(orthographic_height: float | None) -> None:
    cameras = Cameras.orbit(
        [30.0], 20.0, resolution=(6, 8), orthographic_height=orthographic_height
    )
    origins, directions = cameras.pixel_rays()
    points = (origins + 2.5 * directions).reshape(1, -1, 3)
    clip = cameras.to_clip(points)
    ndc = (clip[..., :2] / clip[..., 3:]).reshape(6, 8, 2)
    expected_x = (torch.arange(8) + 0.5) / 8 * 2 - 1
    expected_y = 1 - (torch.arange(6) + 0.5) / 6 * 2  # row 0 is the top
    assert torch.allclose(ndc[..., 0], expected_x.expand(6, 8), atol=1e-4)
    assert torch.allclose(ndc[..., 1], expected_y[:, None].expand(6, 8), atol=1e-4)
