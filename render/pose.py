"""Which way a photo looks at a mesh: the orbit camera (azimuth, elevation) whose render of the
mesh best matches the photo's object.

Texture refinement needs the camera an input image was taken from. A photo is not always
taken from the view a model was trained on, and a mesh to paint may face any way, so the view
is estimated instead of assumed: every candidate camera is framed on the mesh as the photo's
object is framed (``Cameras.framed``), the mesh is rasterised there at a low resolution, and
the candidate is scored by how well its silhouette overlaps the photo's object (IoU) and, for
a coloured mesh, how close its colours are to the photo's where both show the object. Colour
tells apart views whose silhouettes are mirror images of each other, e.g. the front and the
back of a chair. A coarse grid over the whole sphere of directions comes first, then a finer
search around the best few candidates.

A ``prior`` view (the pipeline's reference view) wins when it scores within
``prior_tolerance`` of the best: where the photo cannot tell views apart (a bowl or a bottle
looks the same from every side), the view the rest of the pipeline assumed is the consistent
choice.

Only the direction is estimated: the object is taken to be upright (no roll), framed by its
bounds, and seen through the orbit cameras' lens.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from render.backend import RasterBackend, RenderError, get_backend
from render.camera import Cameras
from render.mesh import RenderMesh
from render.renderer import sample_albedo

#: the coarse grid's azimuths (every 15 degrees) and elevations (degrees above the horizon)
COARSE_AZIMUTHS = tuple(float(a) for a in range(0, 360, 15))
COARSE_ELEVATIONS = (-15.0, 0.0, 15.0, 30.0, 45.0, 60.0, 75.0)


@dataclass(frozen=True)
class ViewEstimate:
    azimuth: float  # degrees in [0, 360)
    elevation: float  # degrees above the horizon
    iou: float  # silhouette overlap with the photo's object, in [0, 1]
    colour_error: float | None  # mean absolute colour difference where both show the object
    score: float  # what was maximised: iou - colour_weight * colour_error

    @property
    def view(self) -> tuple[float, float]:
        return (self.azimuth, self.elevation)

    def as_metadata(self) -> dict[str, float]:
        data = {"azimuth": round(self.azimuth, 1), "elevation": round(self.elevation, 1)}
        data["iou"] = round(self.iou, 3)
        if self.colour_error is not None:
            data["colour_error"] = round(self.colour_error, 3)
        return data


@dataclass
class PoseSettings:
    resolution: int = 96  # pixels a side of the silhouettes compared
    colour_weight: float = 0.5  # score = iou - colour_weight * colour error
    margin: float = 0.1  # the photo's framing margin (``gen3d.images.prepare_image``'s)
    keep: int = 3  # coarse candidates searched further
    finest_step: float = 1.0  # degrees: the fine search halves its step down to this
    prior_tolerance: float = 0.01  # a prior view this close to the best score wins
    batch: int = 48  # views rasterised at once

    def __post_init__(self) -> None:
        if not 16 <= self.resolution <= 1024:
            raise RenderError(f"pose resolution must be in 16..1024, got {self.resolution}")
        if self.colour_weight < 0 or not 0 <= self.margin < 0.5:
            raise RenderError("colour_weight must be >= 0 and margin in [0, 0.5)")
        if self.keep < 1 or self.finest_step <= 0 or self.batch < 1:
            raise RenderError("keep and batch must be >= 1 and finest_step positive")
        if self.prior_tolerance < 0:
            raise RenderError(f"prior_tolerance must be >= 0, got {self.prior_tolerance}")


def estimate_view(
    mesh: RenderMesh,
    image: Tensor,
    mask: Tensor,
    *,
    prior: tuple[float, float] | None = None,
    settings: PoseSettings | None = None,
    backend: str | RasterBackend = "auto",
) -> ViewEstimate:
    """The orbit view from which ``mesh`` looks most like ``image (H, W, 3)`` in [0, 1], whose
    object is ``mask (H, W)``; both framed with ``settings.margin`` as
    ``gen3d.images.prepare_image`` frames a photo. Colour counts only when the mesh has one
    (a texture or vertex colours). The best view near ``prior`` (azimuth, elevation) is
    taken when it scores within ``settings.prior_tolerance`` of the best found."""
    settings = settings or PoseSettings()
    if image.ndim != 3 or image.shape[-1] != 3 or mask.shape != image.shape[:2]:
        raise RenderError(
            f"need image (H, W, 3) and mask (H, W), got {tuple(image.shape)} and "
            f"{tuple(mask.shape)}"
        )
    if not bool(mask.any()):
        raise RenderError("the image's object mask is empty: nothing to match the mesh to")
    if len(mesh.faces) == 0:
        raise RenderError("cannot estimate a view of a mesh with no faces")
    target = _Target(mesh, image, mask, settings, backend)
    coarse = [(a, e) for e in COARSE_ELEVATIONS for a in COARSE_AZIMUTHS]
    found = sorted(target.score(coarse), key=lambda e: e.score, reverse=True)
    step = min(_spacing(COARSE_AZIMUTHS), _spacing(COARSE_ELEVATIONS)) / 2.0
    best = _pattern_search(target, found[: settings.keep], step, settings)
    if prior is None:
        return best
    near_prior = _pattern_search(target, target.score([prior]), step, settings)
    return near_prior if near_prior.score >= best.score - settings.prior_tolerance else best


def _pattern_search(
    target: _Target, candidates: list[ViewEstimate], step: float, settings: PoseSettings
) -> ViewEstimate:
    """The best view found from ``candidates``: each tries its eight neighbours at ``step``,
    the best ``settings.keep`` go on, and the step halves down to ``settings.finest_step``."""
    while step >= settings.finest_step:
        tried = [
            (c.azimuth + da * step, c.elevation + de * step)
            for c in candidates
            for da in (-1, 0, 1)
            for de in (-1, 0, 1)
            if da or de
        ]
        ranked = sorted(candidates + target.score(tried), key=lambda e: e.score, reverse=True)
        candidates = ranked[: settings.keep]
        step /= 2.0
    return candidates[0]


def _spacing(values: Sequence[float]) -> float:
    return min(b - a for a, b in itertools.pairwise(values))


class _Target:
    """The photo at the comparison resolution, and how to score views of the mesh on it."""

    def __init__(
        self,
        mesh: RenderMesh,
        image: Tensor,
        mask: Tensor,
        settings: PoseSettings,
        backend: str | RasterBackend,
    ) -> None:
        self.mesh, self.settings = mesh, settings
        self.backend = get_backend(backend, mesh.device) if isinstance(backend, str) else backend
        size = (settings.resolution, settings.resolution)
        # Area averaging: a pixel is the object where most of it is.
        pixels = torch.cat([image.float(), mask.float()[..., None]], dim=-1)
        small = torch.nn.functional.interpolate(
            pixels.permute(2, 0, 1)[None].to(mesh.device), size=size, mode="area"
        )[0].permute(1, 2, 0)
        self.mask = small[..., 3] >= 0.5
        self.image = small[..., :3]
        self.coloured = mesh.texture is not None or mesh.vertex_colors is not None

    def score(self, views: list[tuple[float, float]]) -> list[ViewEstimate]:
        found = []
        for start in range(0, len(views), self.settings.batch):
            found += self._score_batch(views[start : start + self.settings.batch])
        return found

    @torch.no_grad()
    def _score_batch(self, views: list[tuple[float, float]]) -> list[ViewEstimate]:
        # Elevations beyond the poles come back over the top: the same camera, turned round.
        views = [_wrapped(azimuth, elevation) for azimuth, elevation in views]
        azimuths = [azimuth for azimuth, _ in views]
        elevations = [elevation for _, elevation in views]
        cameras = Cameras.orbit(azimuths, elevations, resolution=self.settings.resolution)
        cameras = cameras.to(self.mesh.device).framed(self.mesh.vertices, self.settings.margin)
        rast = self.backend.rasterize(
            cameras.to_clip(self.mesh.vertices), self.mesh.faces, cameras.resolution
        )
        covered = (rast[..., 3] > 0).flip(1)  # top-down, as the photo
        both = covered & self.mask
        union = (covered | self.mask).sum((1, 2)).clamp_min(1)
        ious = both.sum((1, 2)) / union
        errors: Tensor | None = None
        if self.coloured:
            colour = sample_albedo(self.mesh, rast, self.backend).flip(1)
            difference = (colour - self.image).abs().mean(-1) * both
            errors = difference.sum((1, 2)) / both.sum((1, 2)).clamp_min(1)
        found = []
        for index, (azimuth, elevation) in enumerate(views):
            iou = float(ious[index])
            error = None if errors is None else float(errors[index])
            score = iou - (0.0 if error is None else self.settings.colour_weight * error)
            found.append(ViewEstimate(azimuth, elevation, iou, error, score))
        return found


def _wrapped(azimuth: float, elevation: float) -> tuple[float, float]:
    """The same camera direction with elevation in [-90, 90] and azimuth in [0, 360)."""
    if elevation > 90.0:
        azimuth, elevation = azimuth + 180.0, 180.0 - elevation
    elif elevation < -90.0:
        azimuth, elevation = azimuth + 180.0, -180.0 - elevation
    return azimuth % 360.0, elevation
