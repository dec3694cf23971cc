"""Texture refinement: optimise a UV texture so that renders match reference images.

For image-to-3D the reference is the input image seen from its estimated camera; in tests it
is renders of a known textured mesh. The loss is the mean squared error over pixels both the
reference (its mask) and the mesh cover, plus total variation (smoothness where no view sees
the texture) and closeness to the starting, baked texture (so unseen texels stay plausible).

The mesh and cameras do not move, so rasterization and the per-pixel UVs are computed once;
each Adam step only samples the texture, which makes 100 steps cheap on CPU.

What is optimised is a change to the texture at a coarser resolution, upsampled bilinearly.
A texture usually has more texels than the views have pixels on them (a 1024^2 texture seen
in a 384^2 image has 1.5-3 texels between neighbouring pixels): optimised texel by texel,
only the texels next to pixel centres move, and the texture takes a dotted grid that shows
from any other distance or angle. With each coarse texel at least two pixels across (chosen
from the views' own texel spacing), every texel moves with its neighbours. Measured on
1024^2 textures of a procedural mug and chair refined from one 384^2 view, against
texel-by-texel refinement: renders at 1024^2 gained 5-18 dB PSNR, renders from a new angle
3-16 dB, and the steps ran 8-15x faster (``scripts/bench_render.py --parts quality``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from render.backend import RasterBackend, RenderError, get_backend
from render.camera import Cameras
from render.highlights import (
    CLIPPED,
    MIN_STRENGTH,
    Highlight,
    expected_colours,
    fit_highlights,
    lamp_direction,
)
from render.lighting import LightFit, default_stride, fit_light, log_luma
from render.mesh import RenderMesh
from render.shadows import MAX_SHADOW_LIGHT, shading_lamp, shadow_term
from render.symmetry import carry_round, shape_symmetry

#: the colour cast (``RefineSettings.colour_cast``) scales a channel by at most this either way
MAX_COLOUR_CAST = 2.0

#: Called after every step with (step, total steps, loss); returning False cancels.
RefineCallback = Callable[[int, int, float], bool | None]


class RefinementCancelled(RuntimeError):
    """The progress callback asked to stop."""


@dataclass
class RefineSettings:
    steps: int = 100
    lr: float = 0.03
    tv_weight: float = 1e-3  # smoothness of the change to the texture
    anchor_weight: float = 1e-2  # smallness of that change: closeness to the baked texture
    patience: int = 15  # steps without a relative improvement of ``tolerance`` before stopping
    tolerance: float = 1e-3
    #: texels of the texture per texel of the optimised change (a power of two); None picks
    #: it from the views, so that each optimised texel spans at least two pixels
    coarsening: int | None = None
    #: pixels this close to the edge of a reference mask are left out: they mix the object's
    #: colour with the background's
    edge_margin: int = 2
    #: fit the references' lighting (``render.lighting``) and refine the surface colour under
    #: it, so that shading does not end up in the texture; False: the references show the
    #: surface colour itself (unlit renders)
    fit_lighting: bool = False
    #: with ``fit_lighting``: fit the light's colour too (``fit_coloured_shading``), so that a
    #: warm lamp and a blue sky's shadows are not painted on; False: grey light
    light_colour: bool = True
    #: with ``fit_lighting``: find specular highlights (``render.highlights``) and refine
    #: against the references without them, so that no white blob is painted on
    highlights: bool = True
    #: with ``fit_lighting``: find the shadows one part casts on another under the photo's
    #: lamp (``render.shadows``) and fit their darkness, so that they are not painted on
    shadows: bool = True
    #: with ``fit_lighting``: fit the light to the references' ratio to the starting texture
    #: as well as to their own changes between neighbours (``fit_light(albedo=...)``), for a
    #: starting texture that guesses the surface colour (a model's): a box's faces each have
    #: one normal, so only that ratio tells how differently lit they are. Not for a start
    #: that is no guess (one plain colour): its ratio is the paint, which the fit would take
    #: for light
    light_from_texture: bool = False
    #: trust each pixel by how well the starting texture already explains it: its squared
    #: error is weighted 1 / (1 + (r / s)^2) (Cauchy), r its starting error, s this times the
    #: median of r. For a mesh that is not the photographed object (a generated one): where
    #: its geometry does not fit the photo (a shelf's boards seen on a closed block), a few
    #: pixels disagree far more than the rest and are not painted on, while a change most
    #: pixels ask for (a colour shift) is made in full. The weights act against the anchor
    #: (``anchor_weight``): Adam's steps do not shrink with a texel's gradient, so what holds
    #: a distrusted texel back is the pull to its start. None: every pixel alike
    outlier_scale: float | None = None
    #: white-balance the whole texture to the references first (``colour_cast``: one gain
    #: per channel, fitted where the references see it, under the fitted light): a model's
    #: bake often has the photographed object's pattern in a somewhat wrong colour.
    #: Refinement changes only the texels the views see, so without it the sides the photo
    #: does not show keep the wrong colour; the gain carries to them
    colour_cast: bool = False
    #: carry the refined colours round a shape symmetric under turns about its upright axis
    #: (+y; ``render.symmetry``): each texel the views do not see takes the median colour
    #: of the seen points its symmetric turns land it on. A photo shows one side of a
    #: bottle; the others are most likely coloured alike, not like the bake's guess. A shape
    #: with no such turn that is its own mirror image across an upright plane (a car, a
    #: chair) has each unseen texel take the colour of its mirror image where that is seen
    symmetry: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 100_000:
            raise RenderError(f"refinement steps must be in 1..100000, got {self.steps}")
        if self.lr <= 0 or self.tv_weight < 0 or self.anchor_weight < 0:
            raise RenderError("lr must be positive and the regulariser weights non-negative")
        if self.patience < 1 or self.tolerance < 0:
            raise RenderError("patience must be >= 1 and tolerance >= 0")
        if self.edge_margin < 0:
            raise RenderError(f"edge_margin must be >= 0, got {self.edge_margin}")
        if self.outlier_scale is not None and not self.outlier_scale > 0:
            raise RenderError(f"outlier_scale must be positive, got {self.outlier_scale}")
        if self.coarsening is not None and (
            self.coarsening < 1 or self.coarsening & (self.coarsening - 1)
        ):
            raise RenderError(f"coarsening must be a power of two, got {self.coarsening}")


@dataclass
class RefineResult:
    texture: Tensor  # (H, W, 3) in [0, 1]
    losses: list[float] = field(default_factory=list)
    stopped_early: bool = False
    coarsening: int = 1  # the one used
    #: with ``fit_lighting``: how uneven the fitted light was (0: even; 0.6: the darkest
    #: pixels got 40% of the brightest's light)
    light_contrast: float = 0.0
    #: with ``fit_lighting`` and ``highlights``: the highlights found and taken out
    highlights: list[Highlight] = field(default_factory=list)
    #: with ``fit_lighting`` and ``shadows``: the share of the lamp's light left in the cast
    #: shadows found and taken out (0.4: they are 60% darker); None: none found
    shadow_light: float | None = None
    #: with ``colour_cast``: the gain per channel the whole texture was multiplied by first
    colour_cast: tuple[float, float, float] | None = None
    #: with ``symmetry``: the turns (degrees about +y) the shape is symmetric under, and the
    #: share of the texture's texels given colours carried from seen ones
    symmetric_turns: list[float] = field(default_factory=list)
    carried: float = 0.0
    #: with ``symmetry``, for a shape with no turns: the upright mirror plane its colours
    #: were reflected across (the azimuth of its normal, degrees in [0, 180)); None: none
    mirror_plane: float | None = None

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
        self._mesh, self._rast, self._cameras = mesh, rast, cameras

    @functools.cached_property
    def normals(self) -> Tensor:
        """Unit surface normals ``(B, H, W, 3)`` seen at each pixel (for fitting lighting;
        computed on first use only)."""
        with torch.no_grad():
            mesh = self._mesh
            normals = self.backend.interpolate(mesh.vertex_normals(), self._rast, mesh.faces)
        return torch.nn.functional.normalize(normals, dim=-1).flip(1)

    @property
    def mesh(self) -> RenderMesh:
        return self._mesh

    @functools.cached_property
    def positions(self) -> Tensor:
        """Surface points ``(B, H, W, 3)`` seen at each pixel (for cast shadows; computed on
        first use only)."""
        with torch.no_grad():
            mesh = self._mesh
            points = self.backend.interpolate(mesh.vertices, self._rast, mesh.faces)
        return points.flip(1)

    @functools.cached_property
    def views(self) -> Tensor:
        """Unit directions ``(B, H, W, 3)`` from the surface seen at each pixel to the camera
        (for finding highlights; computed on first use only)."""
        _, directions = self._cameras.to("cpu").pixel_rays()  # built on the CPU
        return -directions.to(self.uv.device)

    def __call__(self, texture: Tensor) -> Tensor:
        return self.backend.texture(texture[None], self.uv, "linear", "wrap")

    def texel_spacing(self, texture_size: tuple[int, int]) -> float:
        """Median distance, in texels of a ``texture_size`` texture, between the texture
        coordinates of neighbouring covered pixels (jumps across UV seams are outliers)."""
        scale = torch.tensor([texture_size[1], texture_size[0]], device=self.uv.device)
        texels = self.uv * scale
        steps = []
        for axis in (1, 2):  # rows, columns
            length = texels.shape[axis] - 1
            both = self.covered.narrow(axis, 0, length) & self.covered.narrow(axis, 1, length)
            step = texels.narrow(axis, 1, length) - texels.narrow(axis, 0, length)
            steps.append(step.norm(dim=-1)[both])
        distances = torch.cat(steps)
        return float(distances.median()) if len(distances) else 1.0

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
        weight = weight & _erode(masks.to(weight.device).bool(), settings.edge_margin)
    if not bool(weight.any()):
        raise RenderError("no pixel is covered by both the mesh and the reference masks")
    anchor = mesh.texture.detach()
    references = references.to(anchor)
    size = (anchor.shape[0], anchor.shape[1])
    coarsening = settings.coarsening or auto_coarsening(sampler.texel_spacing(size), size)
    change = anchor.new_zeros(
        (-(-size[0] // coarsening), -(-size[1] // coarsening), 3), requires_grad=True
    )
    optimizer = torch.optim.Adam([change], lr=settings.lr)
    result = RefineResult(texture=anchor, coarsening=coarsening)
    shading = None
    if settings.fit_lighting:
        baked = None  # the starting texture as the views see it, where needed
        if settings.light_from_texture or settings.highlights:
            with torch.no_grad():
                baked = sampler(anchor)
        guess = baked if settings.light_from_texture else None
        light, lamps, shadowed = _fitted_light(sampler, references, weight, settings, guess)
        if settings.highlights:
            references, weight, result.highlights = _without_highlights(
                sampler, baked, references, weight, _per_channel(light.shading), lamps
            )
            if result.highlights:  # the light again, from the photo without them
                light, _, _ = _fitted_light(sampler, references, weight, settings, guess, shadowed)
        result.light_contrast, result.shadow_light = light.contrast, light.shadow_light
        shading = _per_channel(light.shading)[weight].to(anchor)  # (pixels, 3 or 1)
    targets = references[weight]
    # The texture is the anchor plus the upsampled change, and sampling is linear, so each
    # step samples only the small change at the pixels' UVs (bilinear sampling of the coarse
    # change is, to second order, sampling of its bilinear upsampling).
    anchor_colours = sampler.sample(anchor, weight)
    seen = _seen_cells(sampler, change, weight)

    def lit(colours: Tensor) -> Tensor:
        return colours if shading is None else colours * shading

    def trusted(start: Tensor) -> Tensor | None:  # each pixel's weight (None: all alike)
        if settings.outlier_scale is None:
            return None
        return outlier_weights((start - targets).norm(dim=-1), settings.outlier_scale)

    with torch.no_grad():
        trust = trusted(lit(anchor_colours))
        if settings.colour_cast:
            # Weighted by trust: a misfit's pixels (a part the mesh lacks) say nothing of it.
            gain = colour_cast(lit(anchor_colours), targets, trust)
            anchor = (anchor * gain).clamp(0.0, 1.0)
            anchor_colours = sampler.sample(anchor, weight)
            result.colour_cast = tuple(round(float(value), 4) for value in gain)
            trust = trusted(lit(anchor_colours))  # by how well the balanced start explains
    best, since_best = math.inf, 0
    for step in range(settings.steps):
        optimizer.zero_grad(set_to_none=True)
        # Only cells the views sample may change: Adam moves a parameter a full step for the
        # faintest gradient, so cells reached only through the smoothness term drifted too,
        # across the atlas onto sides the views never show.
        visible_change = change * seen
        colours = lit(anchor_colours + sampler.sample(visible_change, weight))
        squared = (colours - targets).pow(2)
        fit = squared.mean() if trust is None else (squared.mean(-1) * trust).sum() / trust.sum()
        loss = (
            fit
            + settings.tv_weight * total_variation(visible_change)
            + settings.anchor_weight * visible_change.pow(2).mean()
        )
        loss.backward()
        optimizer.step()
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
    with torch.no_grad():
        result.texture = (anchor + _upsample(change * seen, size)).clamp(0.0, 1.0)
    if settings.symmetry:
        turns, mirrors = shape_symmetry(mesh.vertices, mesh.faces)
        shown = sampler.covered if masks is None else masks.to(sampler.covered.device).bool()
        carry = carry_round(
            mesh.with_texture(result.texture),
            cameras,
            shown,
            turns,
            mirrors,
            backend=sampler.backend,
        )
        result.texture, result.symmetric_turns = carry.texture, turns
        result.carried, result.mirror_plane = carry.carried, carry.mirror
    return result


def colour_cast(start: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
    """The gain per channel ``(3,)`` that takes the colours ``start (N, 3)`` nearest
    ``targets (N, 3)`` in weighted least squares (``weights (N,)``; None: all alike), within
    ``MAX_COLOUR_CAST`` either way: a white balance of the start to the targets. Fitted on
    the colours themselves, not their logs: a dark channel's ratio is mostly the photo's
    rounding, and counts as little as it shows."""
    weights = torch.ones_like(start[:, 0]) if weights is None else weights
    weighted = weights[:, None] * start
    gain = (weighted * targets).sum(0) / (weighted * start).sum(0).clamp_min(1e-8)
    return gain.clamp(1.0 / MAX_COLOUR_CAST, MAX_COLOUR_CAST)


def outlier_weights(errors: Tensor, scale: float) -> Tensor:
    """Cauchy weights ``1 / (1 + (e / s)^2)`` of per-pixel ``errors``, ``s`` being ``scale``
    times their median: the pixels that disagree far more than most count far less."""
    spread = scale * errors.median().clamp_min(1e-3)  # an exact start: every pixel alike
    return 1.0 / (1.0 + (errors / spread).pow(2))


def _seen_cells(sampler: TextureSampler, change: Tensor, weight: Tensor) -> Tensor:
    """``(h, w, 1)``: 1 at the cells of ``change (h, w, 3)`` that sampling it at the pixels
    of ``weight`` reads (bilinear footprints included), 0 elsewhere."""
    probe = torch.zeros_like(change, requires_grad=True)
    with torch.enable_grad():
        sampler.sample(probe, weight).sum().backward()
    return (probe.grad.abs().sum(-1, keepdim=True) > 0).to(change.dtype)


def _per_channel(shading: Tensor) -> Tensor:
    """Shading ``(B, H, W, 3)``, or grey ``(B, H, W)`` as ``(B, H, W, 1)``."""
    return shading if shading.ndim == 4 else shading[..., None]


def _fitted_light(
    sampler: TextureSampler,
    references: Tensor,
    weight: Tensor,
    settings: RefineSettings,
    albedo: Tensor | None,
    shadowed: Tensor | None = None,
) -> tuple[LightFit, list[Tensor | None], Tensor | None]:
    """The references' light (``render.lighting.fit_light``; ``albedo``: the starting
    texture's colours, or None to fit without them), the lamp each image's shading
    points at (``lamp_direction``), and, with ``settings.shadows``, the cast shadows' term
    (``render.shadows.shadow_term``; ``shadowed`` reuses one found before), or None where no
    shadow darker than ``MAX_SHADOW_LIGHT`` was found: then the light is fitted without."""
    colour = settings.light_colour
    plain = fit_light(sampler.normals, references, weight, colour=colour, albedo=albedo)
    shading = _per_channel(plain.shading)
    lamps = [
        lamp_direction(sampler.normals[index], shading[index], weight[index])
        for index in range(len(weight))
    ]
    if not settings.shadows or all(lamp is None for lamp in lamps):
        return plain, lamps, None
    if shadowed is None:
        # What the smooth shading leaves unexplained: where cast shadows show.
        unexplained = log_luma(references) - shading.clamp_min(1e-3).log().mean(dim=-1)
        closer = [
            None if lamp is None else shading_lamp(sampler.normals[i], shading[i], weight[i], lamp)
            for i, lamp in enumerate(lamps)
        ]
        shadowed = shadow_term(
            sampler.mesh,
            sampler.positions,
            sampler.normals,
            weight,
            closer,
            unexplained=unexplained,
            stride=default_stride(weight),
            views=sampler.views,
            backend=sampler.backend,
        )
        if shadowed is None:
            return plain, lamps, None
    light = fit_light(
        sampler.normals, references, weight, colour=colour, shadowed=shadowed, albedo=albedo
    )
    if light.shadow_light is None or light.shadow_light > MAX_SHADOW_LIGHT:
        return plain, lamps, None
    return light, lamps, shadowed


def _without_highlights(
    sampler: TextureSampler,
    baked: Tensor,
    references: Tensor,
    weight: Tensor,
    shading: Tensor,
    lamps: list[Tensor | None],
) -> tuple[Tensor, Tensor, list[Highlight]]:
    """The references less their highlights from ``lamps`` (``baked``: the starting texture
    seen by the views), the pixels to fit (without those where a highlight clipped the
    photo: the paint there cannot be read), and the highlights."""
    with torch.no_grad():
        expected = expected_colours(baked, references, shading, weight)
    added, found = fit_highlights(
        sampler.normals, sampler.views, references, expected, weight, lamps
    )
    if not found:
        return references, weight, found
    clipped = (references.max(dim=-1).values >= CLIPPED) & (added > MIN_STRENGTH / 2)
    return (references - added[..., None]).clamp(0.0, 1.0), weight & ~clipped, found


def _erode(mask: Tensor, margin: int) -> Tensor:
    """``mask (B, H, W)`` without the pixels within ``margin`` of a pixel outside it."""
    if margin == 0:
        return mask
    outside = (~mask).float()[:, None]
    near = torch.nn.functional.max_pool2d(outside, 2 * margin + 1, stride=1, padding=margin)
    return mask & (near[:, 0] == 0)


def auto_coarsening(texel_spacing: float, size: tuple[int, int]) -> int:
    """The smallest power of two at least twice ``texel_spacing`` (each optimised texel then
    spans two pixels or more), leaving at least 16 texels a side."""
    coarsening = 1
    while coarsening < 2.0 * texel_spacing and min(size) // (coarsening * 2) >= 16:
        coarsening *= 2
    return coarsening


def _upsample(change: Tensor, size: tuple[int, int]) -> Tensor:
    """``(h, w, 3)`` to ``(H, W, 3)``, bilinearly (the identity when the sizes agree)."""
    if change.shape[:2] == size:
        return change
    image = change.permute(2, 0, 1)[None]
    image = torch.nn.functional.interpolate(image, size=size, mode="bilinear", align_corners=False)
    return image[0].permute(1, 2, 0)
