"""Cameras in OpenGL conventions: right-handed world, camera looking down its -Z, clip space
with ``w``, normalised device coordinates in [-1, 1] on every axis.

A :class:`Cameras` holds a batch of views (``view`` world->camera and ``projection``
camera->clip, each ``(B, 4, 4)``) and one image resolution. Images made from it are
top-down (row 0 is the top of the picture), as image files and PIL expect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

Vector3 = Sequence[float] | Tensor


class CameraError(ValueError):
    """A camera that cannot be built as asked (zero-length view direction, bad field of view)."""


def _vec3(value: Vector3, dtype: torch.dtype = torch.float32) -> Tensor:
    vector = torch.as_tensor(value, dtype=dtype)
    if vector.shape != (3,):
        raise CameraError(f"expected a 3-vector, got shape {tuple(vector.shape)}")
    return vector


def look_at(
    eye: Vector3, target: Vector3 = (0.0, 0.0, 0.0), up: Vector3 = (0.0, 1.0, 0.0)
) -> Tensor:
    """World->camera matrix ``(4, 4)`` of a camera at ``eye`` looking at ``target``.

    When ``up`` is parallel to the view direction (a camera straight above), +Z or +X is used
    as the up hint instead, so that top and bottom views are well defined.
    """
    return looking_at(_vec3(eye)[None], target, up)[0]


def looking_at(
    eyes: Tensor, target: Vector3 = (0.0, 0.0, 0.0), up: Vector3 = (0.0, 1.0, 0.0)
) -> Tensor:
    """``look_at`` for many cameras at once: ``eyes (N, 3)`` -> ``(N, 4, 4)``. (One at a time
    cost the pose search 1332 Python calls, 45 ms, per photo.)"""
    eyes = torch.as_tensor(eyes, dtype=torch.float32).reshape(-1, 3)
    target, up = _vec3(target), _vec3(up)
    forward = target - eyes
    length = forward.norm(dim=-1, keepdim=True)
    if bool((length < 1e-9).any()):
        raise CameraError("look_at: eye and target coincide")
    forward = forward / length
    right = torch.linalg.cross(forward, up.expand_as(forward))
    for fallback in ((0.0, 0.0, 1.0), (1.0, 0.0, 0.0)):
        weak = right.norm(dim=-1, keepdim=True) <= 1e-6
        if not bool(weak.any()):
            break
        hint = torch.tensor(fallback).expand_as(forward)
        right = torch.where(weak, torch.linalg.cross(forward, hint), right)
    right = right / right.norm(dim=-1, keepdim=True)
    true_up = torch.linalg.cross(right, forward)
    rotation = torch.stack([right, true_up, -forward], dim=1)  # rows: camera axes in world space
    view = torch.eye(4).repeat(len(eyes), 1, 1)
    view[:, :3, :3] = rotation
    view[:, :3, 3] = -(rotation @ eyes[..., None])[..., 0]
    return view


def perspective(
    fov_y_degrees: float, aspect: float = 1.0, near: float = 0.1, far: float = 100.0
) -> Tensor:
    """OpenGL perspective projection ``(4, 4)``; ``aspect`` is width / height."""
    if not 0.0 < fov_y_degrees < 180.0:
        raise CameraError(f"field of view must be in (0, 180) degrees, got {fov_y_degrees}")
    if not 0.0 < near < far:
        raise CameraError(f"need 0 < near < far, got near={near}, far={far}")
    focal = 1.0 / math.tan(math.radians(fov_y_degrees) / 2.0)
    projection = torch.zeros(4, 4)
    projection[0, 0] = focal / aspect
    projection[1, 1] = focal
    projection[2, 2] = (far + near) / (near - far)
    projection[2, 3] = 2.0 * far * near / (near - far)
    projection[3, 2] = -1.0
    return projection


def orthographic(
    height: float, aspect: float = 1.0, near: float = 0.1, far: float = 100.0
) -> Tensor:
    """OpenGL orthographic projection ``(4, 4)`` showing ``height`` world units top to bottom."""
    if height <= 0.0:
        raise CameraError(f"orthographic height must be positive, got {height}")
    if not near < far:
        raise CameraError(f"need near < far, got near={near}, far={far}")
    projection = torch.eye(4)
    projection[0, 0] = 2.0 / (height * aspect)
    projection[1, 1] = 2.0 / height
    projection[2, 2] = -2.0 / (far - near)
    projection[2, 3] = -(far + near) / (far - near)
    return projection


def orbit_eyes(
    azimuths_degrees: Sequence[float] | Tensor,
    elevations_degrees: Sequence[float] | Tensor | float,
    radius: float,
    target: Vector3 = (0.0, 0.0, 0.0),
) -> Tensor:
    """Camera positions ``(N, 3)`` on a sphere around ``target``, +Y up.

    Azimuth 0 looks at the front (the camera on +Z, where glTF assets face), increasing
    counter-clockwise seen from above; elevation is the angle above the horizon.
    """
    azimuth = torch.deg2rad(torch.as_tensor(azimuths_degrees, dtype=torch.float32))
    elevation = torch.deg2rad(torch.as_tensor(elevations_degrees, dtype=torch.float32))
    azimuth, elevation = torch.broadcast_tensors(azimuth.reshape(-1), elevation.reshape(-1))
    eyes = torch.stack(
        [
            torch.cos(elevation) * torch.sin(azimuth),
            torch.sin(elevation),
            torch.cos(elevation) * torch.cos(azimuth),
        ],
        dim=-1,
    )
    return eyes * radius + _vec3(target)


def _checked_resolution(resolution: tuple[int, int] | int) -> tuple[int, int]:
    if isinstance(resolution, int):
        resolution = (resolution, resolution)
    height, width = (int(r) for r in resolution)
    if not (1 <= height <= 8192 and 1 <= width <= 8192):
        raise CameraError(f"resolution must be within 1x1 .. 8192x8192, got {resolution}")
    return height, width


@dataclass
class Cameras:
    """A batch of ``B`` cameras sharing one resolution ``(height, width)``."""

    view: Tensor  # (B, 4, 4) world -> camera
    projection: Tensor  # (B, 4, 4) camera -> clip
    resolution: tuple[int, int]

    def __post_init__(self) -> None:
        if self.view.ndim == 2:
            self.view = self.view[None]
        if self.projection.ndim == 2:
            self.projection = self.projection[None].expand(len(self.view), 4, 4)
        if self.view.shape[-2:] != (4, 4) or self.projection.shape != self.view.shape:
            raise CameraError(
                f"view and projection must both be (B, 4, 4); got {tuple(self.view.shape)} "
                f"and {tuple(self.projection.shape)}"
            )
        self.resolution = _checked_resolution(self.resolution)

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, index: int | slice) -> Cameras:
        select = slice(index, index + 1) if isinstance(index, int) else index
        return Cameras(self.view[select], self.projection[select], self.resolution)

    @property
    def aspect(self) -> float:
        return self.resolution[1] / self.resolution[0]

    @property
    def eyes(self) -> Tensor:
        """Camera centres in world space ``(B, 3)``."""
        rotation, translation = self.view[:, :3, :3], self.view[:, :3, 3]
        return -(rotation.transpose(1, 2) @ translation[..., None])[..., 0]

    @property
    def forward(self) -> Tensor:
        """Unit viewing directions in world space ``(B, 3)`` (the camera's -Z axis)."""
        return -self.view[:, 2, :3]

    def to(self, device: torch.device | str) -> Cameras:
        return Cameras(self.view.to(device), self.projection.to(device), self.resolution)

    def to_clip(self, points: Tensor) -> Tensor:
        """World points ``(N, 3)`` or ``(B, N, 3)`` to clip coordinates ``(B, N, 4)``."""
        if points.ndim == 2:
            points = points[None].expand(len(self), -1, -1)
        homogeneous = torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)
        matrix = (self.projection @ self.view).to(points)
        return homogeneous @ matrix.transpose(1, 2)

    def rolled(self, degrees: Sequence[float] | Tensor | float) -> Cameras:
        """These cameras turned about their viewing axes, so that what they see turns
        ``degrees`` counter-clockwise in the picture (one angle, or one per camera): the
        camera of a photo taken with the phone held askew. Roll before ``framed``, which
        frames what the turned camera sees."""
        angles = torch.deg2rad(torch.as_tensor(degrees, dtype=torch.float64)).reshape(-1)
        angles = angles.expand(len(self)) if len(angles) == 1 else angles
        if len(angles) != len(self):
            raise CameraError(f"{len(angles)} roll angles for {len(self)} cameras")
        cos, sin = torch.cos(angles), torch.sin(angles)
        turn = torch.eye(4, dtype=torch.float64).repeat(len(self), 1, 1)
        # In camera space x is right and y up in the picture: turning points about +z turns
        # the picture counter-clockwise.
        turn[:, 0, 0], turn[:, 0, 1], turn[:, 1, 0], turn[:, 1, 1] = cos, -sin, sin, cos
        view = turn.to(self.view) @ self.view
        return Cameras(view, self.projection, self.resolution)

    def framed(self, points: Tensor, margin: float = 0.1) -> Cameras:
        """These cameras zoomed and shifted so that ``points (N, 3)`` fill each frame as a
        photo's object is framed for gen3d (``gen3d.images.prepare_image``): the longest side
        of their projected bounds across ``1 - 2 * margin`` of the frame, centred. The same as
        cropping each render, and differentiable like any camera."""
        clip = self.to_clip(points)  # (B, N, 4)
        ndc = clip[..., :2] / clip[..., 3:]
        low, high = ndc.amin(1), ndc.amax(1)  # (B, 2)
        extent = (high - low).amax(-1).clamp_min(1e-6)
        scale = (2.0 * (1.0 - 2.0 * margin) / extent)[:, None]
        centre = (low + high) / 2.0
        # x_ndc' = scale * (x_ndc - centre), i.e. on clip coordinates x' = scale * (x - centre
        # * w): a change of the projection's x and y rows.
        projection = self.projection.clone()
        w_row = projection[:, 3]
        for axis in (0, 1):
            shift = centre[:, axis : axis + 1].to(projection)
            projection[:, axis] = scale.to(projection) * (projection[:, axis] - shift * w_row)
        return Cameras(self.view, projection, self.resolution)

    def pixel_rays(self) -> tuple[Tensor, Tensor]:
        """Rays through every pixel centre: origins and unit directions, each ``(B, H, W, 3)``.

        Row 0 is the top of the image. This is the ray-casting twin of the rasterizer (tests
        compare the two), and works for perspective and orthographic projections alike.
        """
        height, width = self.resolution
        ys = 1.0 - (torch.arange(height, dtype=torch.float64) + 0.5) * (2.0 / height)
        xs = (torch.arange(width, dtype=torch.float64) + 0.5) * (2.0 / width) - 1.0
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        ndc = torch.stack([grid_x, grid_y, torch.zeros_like(grid_x), torch.ones_like(grid_x)], -1)
        near, far = ndc.clone(), ndc.clone()
        near[..., 2], far[..., 2] = -1.0, 1.0
        inverse = torch.linalg.inv((self.projection @ self.view).double())  # (B, 4, 4)

        def unproject(points: Tensor) -> Tensor:
            world = torch.einsum("bij,hwj->bhwi", inverse, points)
            return world[..., :3] / world[..., 3:]

        origins, ends = unproject(near), unproject(far)
        directions = torch.nn.functional.normalize(ends - origins, dim=-1)
        return origins.float(), directions.float()

    @classmethod
    def orbit(
        cls,
        azimuths_degrees: Sequence[float] | Tensor,
        elevations_degrees: Sequence[float] | Tensor | float = 20.0,
        *,
        radius: float = 3.5,
        fov_y_degrees: float = 40.0,
        resolution: tuple[int, int] | int = 512,
        target: Vector3 = (0.0, 0.0, 0.0),
        orthographic_height: float | None = None,
        near: float = 0.1,
        far: float = 100.0,
    ) -> Cameras:
        """Cameras on a sphere looking at ``target``. The defaults show the whole of a sphere
        of radius 1.2 around ``target`` from any direction, which frames gen3d's shapes
        (normalised into ``[-1, 1]^3``). ``orthographic_height`` switches to an orthographic
        projection of that height."""
        resolution = _checked_resolution(resolution)
        aspect = resolution[1] / resolution[0]
        eyes = orbit_eyes(azimuths_degrees, elevations_degrees, radius, target)
        view = looking_at(eyes, target)
        if orthographic_height is None:
            projection = perspective(fov_y_degrees, aspect, near, far)
        else:
            projection = orthographic(orthographic_height, aspect, near, far)
        return cls(view, projection.expand(len(view), 4, 4).clone(), resolution)

    @classmethod
    def turntable(
        cls, frames: int, elevation_degrees: float = 20.0, start_degrees: float = 0.0, **options
    ) -> Cameras:
        """``frames`` cameras evenly spaced around a full turn (for turntable animations)."""
        if frames < 1:
            raise CameraError(f"a turntable needs at least one frame, got {frames}")
        azimuths = start_degrees + torch.arange(frames) * (360.0 / frames)
        return cls.orbit(azimuths, elevation_degrees, **options)
