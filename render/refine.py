"""Texture refinement: optimise a UV texture so that renders match reference images.

For image-to-3D the reference is the input image seen from its estimated camera; in tests it
is renders of a known textured mesh. The loss is the mean squared error over pixels both the
reference (its mask) and the mesh cover, plus total variation (smoothness where no view sees
the texture) and closeness to the starting, baked texture (so unseen texels stay plausible).

The mesh and cameras do not move, so rasterization and the per-pixel UVs are computed once;
each Adam step only samples the texture, which makes 100 steps cheap on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from render.backend import RasterBackend, RenderError, get_backend
from render.camera import Cameras
from render.mesh import RenderMesh

#: Called after every step with (step, total steps, loss); returning False cancels.
RefineCallback = Callable[[int, int, float], bool | None]


class RefinementCancelled(RuntimeError):
    """The progress callback asked to stop."""


@dataclass
class RefineSettings:
    steps: int = 100
    lr: float = 0.03
    tv_weight: float = 1e-3
    anchor_weight: float = 1e-2  # closeness to the starting (baked) texture
    patience: int = 15  # steps without a relative improvement of ``tolerance`` before stopping
    tolerance: float = 1e-3

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 100_000:
            raise RenderError(f"refinement steps must be in 1..100000, got {self.steps}")
        if self.lr <= 0 or self.tv_weight < 0 or self.anchor_weight < 0:
            raise RenderError("lr must be positive and the regulariser weights non-negative")
        if self.patience < 1 or self.tolerance < 0:
            raise RenderError("patience must be >= 1 and tolerance >= 0")


@dataclass
class RefineResult:
    texture: Tensor  # (H, W, 3) in [0, 1]
    losses: list[float] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def steps(self) -> int:
        return len(self.losses)


def total_variation(texture: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring texels."""
    vertical = (texture[1:] - texture[:-1]).abs().mean()
    return vertical + (texture[:, 1:] - texture[:, :-1]).abs().mean()


def psnr(image: Tensor, reference: Tensor, mask: Tensor | None = None) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1], over ``mask`` where given."""
    error = (image - reference).pow(2)
    if mask is not None:
        error = error[mask.bool()]
    mse = float(error.mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


class TextureSampler:
    """Renders the mesh's unlit texture from fixed cameras for any texture, differentiably.

    ``covered`` (B, H, W) marks the pixels the mesh covers; images are top-down.
    """

    def __init__(
        self, mesh: RenderMesh, cameras: Cameras, backend: str | RasterBackend = "auto"
    ) -> None:
        if mesh.uv is None:
            raise RenderError("texture refinement needs a mesh with UVs")
        self.backend = get_backend(backend, mesh.device) if isinstance(backend, str) else backend
        cameras = cameras.to(mesh.device)
        with torch.no_grad():
            rast = self.backend.rasterize(
                cameras.to_clip(mesh.vertices), mesh.faces, cameras.resolution
            )
            image_uv = torch.stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]], dim=-1)
            self.uv = self.backend.interpolate(image_uv, rast, mesh.faces).flip(1)
        self.covered = (rast[..., 3] > 0).flip(1)

    def __call__(self, texture: Tensor) -> Tensor:
        return self.backend.texture(texture[None], self.uv, "linear", "wrap")

    def sample(self, texture: Tensor, where: Tensor) -> Tensor:
        """Colours ``(N, 3)`` at the pixels of the mask ``where`` only: a refinement step
        then costs the covered pixels, not the whole frames."""
        uv = self.uv[where][None, None]  # (1, 1, N, 2): one "image" row of N pixels
        return self.backend.texture(texture[None], uv, "linear", "wrap")[0, 0]


def refine_texture(
    mesh: RenderMesh,
    cameras: Cameras,
    references: Tensor,
    masks: Tensor | None = None,
    *,
    settings: RefineSettings | None = None,
    callback: RefineCallback | None = None,
    backend: str | RasterBackend = "auto",
) -> RefineResult:
    """Optimise ``mesh.texture`` against ``references (B, H, W, 3)`` seen from ``cameras``.

    ``masks (B, H, W)`` marks the reference pixels that show the object (all, when None).
    """
    settings = settings or RefineSettings()
    if mesh.texture is None:
        raise RenderError("texture refinement needs a mesh with a texture to start from")
    height, width = cameras.resolution
    if references.shape != (len(cameras), height, width, 3):
        raise RenderError(
            f"references must be (B, H, W, 3) = {(len(cameras), height, width, 3)}, "
            f"got {tuple(references.shape)}"
        )
    sampler = TextureSampler(mesh, cameras, backend)
    weight = sampler.covered
    if masks is not None:
        weight = weight & masks.to(weight.device).bool()
    if not bool(weight.any()):
        raise RenderError("no pixel is covered by both the mesh and the reference masks")
    targets = references.to(mesh.texture)[weight]
    anchor = mesh.texture.detach()
    texture = anchor.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([texture], lr=settings.lr)
    result = RefineResult(texture=anchor)
    best, since_best = math.inf, 0
    for step in range(settings.steps):
        optimizer.zero_grad(set_to_none=True)
        loss = (
            (sampler.sample(texture, weight) - targets).pow(2).mean()
            + settings.tv_weight * total_variation(texture)
            + settings.anchor_weight * (texture - anchor).pow(2).mean()
        )
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            texture.clamp_(0.0, 1.0)
        value = loss.item()
        result.losses.append(value)
        if callback is not None and callback(step + 1, settings.steps, value) is False:
            raise RefinementCancelled(f"texture refinement cancelled at step {step + 1}")
        if value < best * (1.0 - settings.tolerance):
            best, since_best = value, 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                result.stopped_early = True
                break
    result.texture = texture.detach()
    return result
