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
search around the best few candidates, and last a search round the best one with soft
silhouettes (``_polished``: how much of each pixel the object covers, not whether it covers
its centre), which pins the elevation of a slim round object, a bottle, to a degree.

A ``direction_prior`` (``gen3d.view_net.ViewPrior``: which way the photo looks at the object,
read from the photo alone by a network) adds ``prior_weight`` times its log-density at each
view to the score: on a generated mesh, which is near the photographed shape but not the same,
another side can match the photo's outline better than the true one, and the prior keeps the
search to the sides the photo can show.

A ``prior`` view (the pipeline's reference view) wins when it scores within
``prior_tolerance`` of the best: where the photo cannot tell views apart (a bowl or a bottle
looks the same from every side), the view the rest of the pipeline assumed is the consistent
choice.

A photo taken with the camera held askew shows the object turned in the picture: once the
direction is found, turns of the picture up to ``MAX_ROLL`` degrees either way are tried
(``Cameras.rolled``), and the three angles refined together. Most photos are level, so a turn
is kept only where it scores ``prior_tolerance`` better than none.

The object is taken to be framed by its bounds and seen through the orbit cameras' lens.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from render.backend import RasterBackend, RenderError, get_backend
from render.camera import Cameras
from render.mesh import RenderMesh
from render.renderer import sample_albedo

#: the coarse grid's azimuths (every 15 degrees) and elevations (degrees above the horizon)
COARSE_AZIMUTHS = tuple(float(a) for a in range(0, 360, 15))
COARSE_ELEVATIONS = (-15.0, 0.0, 15.0, 30.0, 45.0, 60.0, 75.0)
#: the picture's turns tried (degrees, counter-clockwise), every ``ROLL_STEP`` up to this
MAX_ROLL, ROLL_STEP = 20.0, 5.0
#: ``_polished``'s moves at one step at most, before the step halves
POLISH_MOVES = 3

Camera = tuple[float, float, float]  # azimuth, elevation, roll in degrees


@dataclass(frozen=True)
class ViewEstimate:
    azimuth: float  # degrees in [0, 360)
    elevation: float  # degrees above the horizon
    iou: float  # silhouette overlap with the photo's object, in [0, 1]
    colour_error: float | None  # mean absolute colour difference where both show the object
    score: float  # what was maximised: iou - colour_weight * colour_error (+ the prior's)
    roll: float = 0.0  # degrees the picture is turned counter-clockwise (a camera held askew)
    level_score: float | None = None  # with a roll: the best level view's score

    @property
    def view(self) -> tuple[float, float]:
        """The direction: (azimuth, elevation)."""
        return (self.azimuth, self.elevation)

    @property
    def camera(self) -> Camera:
        """The whole camera: (azimuth, elevation, roll)."""
        return (self.azimuth, self.elevation, self.roll)

    def as_metadata(self) -> dict[str, float]:
        data = {"azimuth": round(self.azimuth, 1), "elevation": round(self.elevation, 1)}
        if round(self.roll, 1) != 0.0:
            data["roll"] = round(self.roll, 1)
        data["iou"] = round(self.iou, 3)
        if self.colour_error is not None:
            data["colour_error"] = round(self.colour_error, 3)
        return data


@dataclass
class PoseSettings:
    resolution: int = 96  # pixels a side of the silhouettes compared
    colour_weight: float = 0.5  # score = iou - colour_weight * colour error
    margin: float = 0.1  # the photo's framing margin (``gen3d.images.prepare_image``'s)
    keep: int = 5  # coarse candidates searched further, each on its own
    finest_step: float = 1.0  # degrees: the fine search halves its step down to this
    prior_tolerance: float = 0.01  # a prior view (or no roll) this close to the best wins
    max_roll: float = MAX_ROLL  # degrees either way; 0 takes every photo to be level
    batch: int = 48  # views rasterised at once
    #: the last search's soft silhouettes: rendered at this many samples a pixel side and
    #: averaged down (``_polished``); 0 ends with the coarse-to-fine search's view
    polish_samples: int = 4
    polish_step: float = 2.0  # degrees: the last search's first step, halved down to
    polish_finest: float = 0.5  # this
    #: with a ``direction_prior``: score += prior_weight * its log-density at the view
    prior_weight: float = 0.05

    def __post_init__(self) -> None:
        if not 16 <= self.resolution <= 1024:
            raise RenderError(f"pose resolution must be in 16..1024, got {self.resolution}")
        if self.colour_weight < 0 or not 0 <= self.margin < 0.5:
            raise RenderError("colour_weight must be >= 0 and margin in [0, 0.5)")
        if self.keep < 1 or self.finest_step <= 0 or self.batch < 1:
            raise RenderError("keep and batch must be >= 1 and finest_step positive")
        if self.prior_tolerance < 0:
            raise RenderError(f"prior_tolerance must be >= 0, got {self.prior_tolerance}")
        if not 0 <= self.max_roll <= 90:
            raise RenderError(f"max_roll must be in 0..90 degrees, got {self.max_roll}")
        if self.prior_weight < 0:
            raise RenderError(f"prior_weight must be >= 0, got {self.prior_weight}")
        if not 0 <= self.polish_samples <= 8:
            raise RenderError(f"polish_samples must be in 0..8, got {self.polish_samples}")
        if not 0 < self.polish_finest <= self.polish_step:
            raise RenderError("need 0 < polish_finest <= polish_step")


class DirectionPrior(Protocol):
    """How likely each viewing direction is, from the photo alone (``gen3d.view_net``)."""

    def log_density(self, views: Sequence[tuple[float, ...]]) -> Tensor:
        """``(len(views),)``: log-densities at (azimuth, elevation, ...) views, at most 0."""
        ...


def estimate_view(
    mesh: RenderMesh,
    image: Tensor,
    mask: Tensor,
    *,
    prior: tuple[float, float] | None = None,
    direction_prior: DirectionPrior | None = None,
    settings: PoseSettings | None = None,
    backend: str | RasterBackend = "auto",
) -> ViewEstimate:
    """The orbit view from which ``mesh`` looks most like ``image (H, W, 3)`` in [0, 1], whose
    object is ``mask (H, W)``; both framed with ``settings.margin`` as
    ``gen3d.images.prepare_image`` frames a photo. Colour counts only when the mesh has one
    (a texture or vertex colours). The best view near ``prior`` (azimuth, elevation) is
    taken when it scores within ``settings.prior_tolerance`` of the best found;
    ``direction_prior`` weighs every view by how likely the photo says it is."""
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
    target = _Target(mesh, image, mask, settings, backend, direction_prior)
    coarse = [(a, e) for e in COARSE_ELEVATIONS for a in COARSE_AZIMUTHS]
    count = int(settings.max_roll // ROLL_STEP)
    rolls = [ROLL_STEP * k for k in range(-count, count + 1)]
    found = sorted(target.score_turned(coarse, rolls), key=lambda e: e.score, reverse=True)
    step = min(_spacing(COARSE_AZIMUTHS), _spacing(COARSE_ELEVATIONS)) / 2.0
    level = [e for e in found if e.roll == 0.0][: settings.keep]
    best = _pattern_search(target, level, step, settings)
    if found[0].roll != 0.0:  # the photo looks turned: search with roll from the turned ones
        turned = target.score([e.camera for e in found[: settings.keep]])
        best_turned = _pattern_search(target, turned, step, settings, roll=True)
        # Most photos are level: a turn has to earn its place.
        if best_turned.score > best.score + settings.prior_tolerance:
            best = dataclasses.replace(best_turned, level_score=best.score)
    if prior is not None:
        prior_camera = (prior[0], prior[1], 0.0)
        near_prior = _pattern_search(target, target.score([prior_camera]), step, settings)
        if near_prior.score >= best.score - settings.prior_tolerance:
            best = near_prior
    return _polished(target, best, settings) if settings.polish_samples else best


def _polished(target: _Target, found: ViewEstimate, settings: PoseSettings) -> ViewEstimate:
    """``found`` moved in azimuth and elevation to where soft silhouettes match best
    (``_Target.score_soft``): from ``settings.polish_step`` degrees, moving while a neighbour
    scores better (a few times at most), then halving the step down to
    ``settings.polish_finest``. Its roll is kept, and its ``level_score`` as far below the
    polished score as the search found it.

    Pixels taken whole or not at all judge a slim object's view poorly: a bottle looks alike
    from every elevation but for the curve of its ends, a fraction of a pixel at the search's
    resolution, and the whole-pixel overlap peaked 3 to 6 degrees away from a bottle photo's
    true 12 (seen from there, the photo's bands land a band off: 8 dB less)."""
    # Along each axis only: the renders here are 16 times the search's.
    moves = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    current = target.score_soft([found.camera])[0]
    step = settings.polish_step
    while step >= settings.polish_finest:
        for _ in range(POLISH_MOVES):
            tried = [
                (current.azimuth + da * step, current.elevation + de * step, current.roll)
                for da, de in moves
            ]
            best = max(target.score_soft(tried), key=lambda e: e.score)
            if best.score <= current.score:
                break
            current = best
        step /= 2.0
    if found.level_score is None:
        return current
    gain = found.score - found.level_score
    return dataclasses.replace(current, level_score=current.score - gain)


def _pattern_search(
    target: _Target,
    candidates: list[ViewEstimate],
    step: float,
    settings: PoseSettings,
    *,
    roll: bool = False,
) -> ViewEstimate:
    """The best view found from ``candidates``, each searched on its own: it moves to the best
    of its eight neighbours in azimuth and elevation at ``step`` (and with ``roll``, a turn
    either way, from half ``ROLL_STEP``) where that scores better, and the steps halve down
    to ``settings.finest_step``.

    On their own, not ranked together: a shape that looks alike from several sides (a tower
    turned a quarter) scores its coarse candidates within a hair of each other, and ranked
    together the neighbours of one took every place, so that the true side, found fourth on
    the coarse grid, was never searched."""
    moves = [(da, de, 0.0) for da in (-1, 0, 1) for de in (-1, 0, 1) if da or de]
    if roll:
        moves += [(0, 0, -1.0), (0, 0, 1.0)]
    roll_step = ROLL_STEP / 2.0
    while step >= settings.finest_step:
        tried = [
            (c.azimuth + da * step, c.elevation + de * step, c.roll + dr * roll_step)
            for c in candidates
            for da, de, dr in moves
        ]
        scored = target.score(tried)
        candidates = [
            max([c, *scored[i * len(moves) : (i + 1) * len(moves)]], key=lambda e: e.score)
            for i, c in enumerate(candidates)
        ]
        step, roll_step = step / 2.0, max(roll_step / 2.0, settings.finest_step)
    return max(candidates, key=lambda e: e.score)


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
        direction_prior: DirectionPrior | None = None,
    ) -> None:
        self.mesh, self.settings, self.direction_prior = mesh, settings, direction_prior
        self.backend = get_backend(backend, mesh.device) if isinstance(backend, str) else backend
        pixels = torch.cat([image.float(), mask.float()[..., None]], dim=-1).to(mesh.device)
        # The share of each compared pixel the photo's object covers (for soft silhouettes)
        # and, where it is at least half, the object's pixels.
        self.share, self.image = self._compared(pixels)
        self.mask = self.share >= 0.5
        # What the coarse search turns, at most 4x the comparison resolution: turning a
        # 384^2 photo for 64^2 silhouettes cost 0.2 s of a straightening's 1.4 s, and the
        # turned copy is averaged down anyway. (At 2x, a ring's mirror view, as good a match,
        # came first on the views bench: a tie, but a needless change.)
        self.turnable = _area_resized(pixels, min(4 * settings.resolution, pixels.shape[0]))
        self.coloured = mesh.texture is not None or mesh.vertex_colors is not None

    def _compared(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        """``pixels (H, W, 4)`` (colour and mask) at the comparison resolution, by area
        averaging: the share of each pixel the object covers, and the colours."""
        small = _area_resized(pixels, self.settings.resolution)
        return small[..., 3], small[..., :3]

    def score(self, views: list[Camera]) -> list[ViewEstimate]:
        """Each camera rendered (turned by its roll) and compared with the photo."""
        found = []
        for start in range(0, len(views), self.settings.batch):
            batch = views[start : start + self.settings.batch]
            covered, colour = self._render(batch)
            found += self._scored(batch, covered, colour, self.mask, self.image)
        return found

    def score_turned(
        self, views: list[tuple[float, float]], rolls: list[float]
    ) -> list[ViewEstimate]:
        """Each direction rendered level once and compared with the photo turned back by each
        of ``rolls`` and framed again: nearly what a render turned by the roll would score,
        for a render per direction rather than one per direction and roll. For the coarse
        search; the candidates it finds are scored exactly after."""
        photos = [
            (roll, self._compared(_turned(self.turnable, -roll, self.settings.margin)))
            if roll
            else (roll, (self.share, self.image))
            for roll in rolls
        ]
        # Every turn at once: masks (R, 1, H, W) (a pixel is the object where most of it is)
        # and colours (R, 1, H, W, 3) against renders (B, H, W), scores (R, B) read out in
        # that order.
        masks = torch.stack([share >= 0.5 for _, (share, _) in photos])[:, None]
        images = torch.stack([image for _, (_, image) in photos])[:, None]
        found = []
        for start in range(0, len(views), self.settings.batch):
            batch = views[start : start + self.settings.batch]
            covered, colour = self._render([(a, e, 0.0) for a, e in batch])
            cameras = [(a, e, roll) for roll, _ in photos for a, e in batch]
            found += self._scored(cameras, covered, colour, masks, images)
        return found

    def score_soft(self, views: list[Camera]) -> list[ViewEstimate]:
        """``score`` with soft silhouettes: each view rendered at ``settings.polish_samples``
        samples a pixel side and averaged down to the share of each pixel it covers, compared
        with the share the photo's object covers (overlap: the sum of the smaller share over
        that of the larger); colours compared over the smaller share."""
        samples = max(self.settings.polish_samples, 1)
        size = self.settings.resolution
        found = []
        batch_size = max(1, self.settings.batch // samples)
        for start in range(0, len(views), batch_size):
            batch = views[start : start + batch_size]
            covered, colour = self._render(batch, size * samples)
            coverage = covered.float()[..., None]
            if colour is not None:
                coverage = torch.cat([colour * coverage, coverage], dim=-1)
            pooled = torch.nn.functional.avg_pool2d(coverage.permute(0, 3, 1, 2), samples)
            pooled = pooled.permute(0, 2, 3, 1)
            share = pooled[..., -1]
            both = torch.minimum(share, self.share)
            ious = both.sum((-2, -1)) / torch.maximum(share, self.share).sum((-2, -1)).clamp_min(1)
            errors = None
            if colour is not None:
                mean_colour = pooled[..., :3] / share[..., None].clamp_min(1e-6)
                difference = (mean_colour - self.image).abs().mean(-1) * both
                errors = difference.sum((-2, -1)) / both.sum((-2, -1)).clamp_min(1e-6)
            found += self._estimates(batch, ious, errors)
        return found

    @torch.no_grad()
    def _render(self, views: list[Camera], size: int | None = None) -> tuple[Tensor, Tensor | None]:
        """Coverage ``(B, H, W)`` and (for a coloured mesh) colours, top-down as the photo;
        ``size`` pixels a side (default the comparison resolution)."""
        azimuths = [azimuth for azimuth, _, _ in views]
        elevations = [elevation for _, elevation, _ in views]
        size = size or self.settings.resolution
        cameras = Cameras.orbit(azimuths, elevations, resolution=size)
        cameras = cameras.rolled([roll for _, _, roll in views]).to(self.mesh.device)
        cameras = cameras.framed(self.mesh.vertices, self.settings.margin)
        rast = self.backend.rasterize(
            cameras.to_clip(self.mesh.vertices), self.mesh.faces, cameras.resolution
        )
        covered = (rast[..., 3] > 0).flip(1)
        if not self.coloured:
            return covered, None
        return covered, sample_albedo(self.mesh, rast, self.backend).flip(1)

    def _scored(
        self,
        views: list[Camera],
        covered: Tensor,
        colour: Tensor | None,
        mask: Tensor,
        image: Tensor,
    ) -> list[ViewEstimate]:
        """``views`` rendered as ``covered (B, H, W)`` and ``colour`` scored against the photo's
        ``mask (..., H, W)`` and ``image (..., H, W, 3)``; leading dimensions there (several
        turns of the photo) score every render against each, ``views`` in that order."""
        both = covered & mask
        overlap = both.sum((-2, -1))
        ious = overlap / (covered | mask).sum((-2, -1)).clamp_min(1)
        errors: Tensor | None = None
        if colour is not None:
            difference = (colour - image).abs().mean(-1) * both
            errors = difference.sum((-2, -1)) / overlap.clamp_min(1)
        return self._estimates(views, ious, errors)

    def _estimates(
        self, views: list[Camera], ious: Tensor, errors: Tensor | None
    ) -> list[ViewEstimate]:
        """``views`` with their overlaps and colour errors (each flattened in ``views``'
        order), scored with the direction prior's weight."""
        # As Python floats at once: reading them one by one cost as much as the comparison.
        iou_list = ious.flatten().tolist()
        error_list = [None] * len(views) if errors is None else errors.flatten().tolist()
        prior_list = [0.0] * len(views)
        if self.direction_prior is not None:
            weight = self.settings.prior_weight
            prior_list = (weight * self.direction_prior.log_density(views)).tolist()
        found = []
        for (azimuth, elevation, roll), iou, error, prior in zip(
            views, iou_list, error_list, prior_list, strict=True
        ):
            # Elevations beyond the poles come back over the top: the same direction.
            azimuth, elevation = _wrapped(azimuth, elevation)
            score = iou - (0.0 if error is None else self.settings.colour_weight * error) + prior
            found.append(ViewEstimate(azimuth, elevation, iou, error, score, roll))
        return found


def _area_resized(pixels: Tensor, size: int) -> Tensor:
    """``pixels (S, S, C)`` averaged over areas into a ``size`` square."""
    return torch.nn.functional.interpolate(
        pixels.permute(2, 0, 1)[None], size=(size, size), mode="area"
    )[0].permute(1, 2, 0)


def _turned(pixels: Tensor, degrees: float, margin: float) -> Tensor:
    """``pixels (S, S, C)`` (colours, then the object's mask last; white and no object outside
    the picture) turned ``degrees`` counter-clockwise about the centre and framed again as
    ``gen3d.images.prepare_image`` frames an object: its longest side across ``1 - 2 *
    margin`` of the square, centred."""
    size = pixels.shape[0]
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    # grid_sample's theta maps output coordinates (x right, y down) to input ones: turning
    # the picture counter-clockwise reads each output pixel from clockwise of it.
    rotation = pixels.new_tensor([[cos, -sin], [sin, cos]])
    # First on a canvas twice the size (coordinates [-2, 2]), so that no corner falls off.
    canvas = _sampled(pixels, torch.cat([2 * rotation, pixels.new_zeros(2, 1)], 1), 2 * size)
    rows = torch.nonzero(canvas[..., -1].amax(1) >= 0.5)[:, 0]
    cols = torch.nonzero(canvas[..., -1].amax(0) >= 0.5)[:, 0]
    if len(rows) == 0:
        return pixels
    pixel = 2.0 / size  # a pixel's side in those coordinates, on the canvas as in the photo
    extent = max(int(rows[-1] - rows[0]), int(cols[-1] - cols[0])) + 1
    half = extent * pixel / 2 / (1.0 - 2.0 * margin)
    centre_y = (float(rows[0] + rows[-1]) / 2 + 0.5) * pixel - 2.0
    centre_x = (float(cols[0] + cols[-1]) / 2 + 0.5) * pixel - 2.0
    frame = pixels.new_tensor([[half, 0.0, centre_x], [0.0, half, centre_y]])
    return _sampled(pixels, rotation @ frame, size)


def _sampled(pixels: Tensor, theta: Tensor, size: int) -> Tensor:
    """``pixels (S, S, C)`` read through the affine map ``theta (2, 3)`` (grid_sample's:
    output to input, normalised coordinates) into a ``size`` square; white and no object
    outside."""
    grid = torch.nn.functional.affine_grid(theta[None], [1, 1, size, size], align_corners=False)
    filled = pixels.clone()
    filled[..., :-1] -= 1.0  # sampled with zeros outside, then shifted back: white outside
    out = torch.nn.functional.grid_sample(
        filled.permute(2, 0, 1)[None], grid, mode="bilinear", align_corners=False
    )[0].permute(1, 2, 0)
    out[..., :-1] += 1.0
    return out


def _wrapped(azimuth: float, elevation: float) -> tuple[float, float]:
    """The same camera direction with elevation in [-90, 90] and azimuth in [0, 360)."""
    if elevation > 90.0:
        azimuth, elevation = azimuth + 180.0, 180.0 - elevation
    elif elevation < -90.0:
        azimuth, elevation = azimuth + 180.0, -180.0 - elevation
    return azimuth % 360.0, elevation
