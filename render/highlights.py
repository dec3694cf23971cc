"""Specular highlights in a photo, so that refinement does not paint them on.

A glossy surface reflects a lamp straight back to the camera where its normal is near the
half vector between the lamp and the viewer: a bright spot of the lamp's colour (white, for a
white lamp) added to the paint's diffuse colour. Refined against as it is, the spot ends up
in the texture, a white patch seen from every side.

The highlight is modelled as Blinn-Phong: ``strength * max(n . h, 0) ** sharpness``, with
``h`` halfway between the direction to the lamp and the direction to the camera at each pixel
(so a flat face shows it as a gradient, a curved one as a spot). The lamp is the one the
photo's shading shows: the diffuse shading is brightest on surfaces facing it, so a linear fit
of the fitted shading against the normal points at it (``lamp_direction``). Only lamps within
``LAMP_SEARCH`` degrees of that direction are tried, so a highlight must sit where that lamp
would put one; an evenly lit photo has no lamp to search for, and keeps what it shows.

The highlight is fitted to what the diffuse model leaves unexplained: the photo less the
expected diffuse colour (the texture refinement starts from, under the fitted shading),
taking the smallest of the three channels' excess, since a white addition raises every channel
while a wrong paint colour lowers at least one. For each lamp direction and sharpness tried
(sharpness 16-256: a satin sheen to a polished pinpoint), the strength is the
least-absolute-deviations fit (a weighted median); a highlight is kept only when it explains
most of the excess it claims and fades out around its edge, where a brighter paint than
expected would go on. Photos without a highlight are left alone.

What is left to refine against is the photo less the highlight. Where the photo clipped (a
channel at 1), the paint under the highlight cannot be read, and those pixels are left out of
the fit instead. A coloured lamp's highlight is taken out as its least channel (grey).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from render.search import directions_around, weighted_quantiles

#: highlight sharpness (the Blinn-Phong exponent) tried: from a satin sheen to a polished
#: surface's pinpoint
SHARPNESS = (16.0, 32.0, 64.0, 128.0, 256.0)
#: degrees: lamp directions tried about the one the shading shows
LAMP_SEARCH = 30.0
#: a lamp whose diffuse light varies less than this over the object is not searched for
MIN_LAMP = 0.1
#: a highlight is kept when its fit removes at least this share of the excess it claims
MIN_EXPLAINED = 0.6
#: and peaks at least this bright (0-1 colour added)
MIN_STRENGTH = 0.15
#: and the excess just outside it is at most this share of its peak (a highlight fades out)
MAX_AROUND = 0.2
#: (its upper quartile: a brighter paint on any side of it counts)
AROUND_QUANTILE = 0.75
#: and adds at least ``MIN_STRENGTH / 2`` on this many pixels
MIN_PIXELS = 12
#: the starting colours' local correction (``expected_colours``): a window this share of the
#: object across, and a low quantile, so that a highlight filling much of it does not count
LOCAL_WINDOW = 0.25
LOCAL_QUANTILE = 0.35
#: a photo's channel this bright may have been clipped
CLIPPED = 254.5 / 255.0
#: highlight values below this are not worth the search's pixels
_FOOTPRINT = 0.01
#: the search looks at this many pixels at most (evenly strided)
SEARCH_PIXELS = 8000


@dataclass(frozen=True)
class Highlight:
    """A lamp's highlight seen in one image: ``strength * max(n . h, 0) ** sharpness``, ``h``
    halfway between ``lamp`` and the direction to the camera."""

    image: int  # which reference image
    lamp: tuple[float, float, float]  # unit direction towards the lamp
    strength: float  # colour added at the peak
    sharpness: float  # the exponent: higher is a smaller, sharper highlight
    explained: float  # share of the excess it claims that the fit removed

    def __call__(self, normals: Tensor, views: Tensor) -> Tensor:
        """The colour added at surface ``normals (..., 3)`` seen along ``views (..., 3)``
        (unit, towards the camera)."""
        cosines = _half_cosines(normals, views, normals.new_tensor([self.lamp]))[..., 0]
        return self.strength * cosines.pow(self.sharpness)


def lamp_direction(normals: Tensor, shading: Tensor, mask: Tensor) -> Tensor | None:
    """The unit direction ``(3,)`` towards the lamp that lights one image's ``shading (H, W)``
    (or ``(H, W, 3)``) over ``mask``, from a least-squares fit of the shading as
    ``a + b * (n . lamp)``; None where the light hardly varies (less than ``MIN_LAMP``)."""
    if shading.ndim == 3:
        shading = shading.mean(dim=-1)
    n, values = normals[mask].double(), shading[mask].double()
    if len(values) < 4:
        return None
    design = torch.cat([torch.ones_like(values)[:, None], n], dim=1)
    coefficients = torch.linalg.lstsq(design, values[:, None]).solution[:, 0]
    slope = coefficients[1:]
    # The shading's change between surfaces facing the lamp and those square to it.
    if float(slope.norm()) < MIN_LAMP:
        return None
    return torch.nn.functional.normalize(slope, dim=0).to(normals.dtype)


def expected_colours(start: Tensor, image: Tensor, shading: Tensor, mask: Tensor) -> Tensor:
    """What ``image (B, H, W, 3)`` would show without highlights, as best known: the starting
    colours ``start (B, H, W, 3)`` (the texture before refinement) under ``shading (B, H, W,
    1 or 3)``, each channel corrected by the photo's local gain over it: a starting texture is
    often the right paint in the wrong tone, and the gain (``LOCAL_QUANTILE`` of the photo's
    surface colour over the start's, in a window ``LOCAL_WINDOW`` of the object across) puts
    it right while a highlight, a small bright part of the window, barely moves it."""
    expected = torch.zeros_like(image)
    for index in range(len(mask)):
        where = mask[index]
        if not bool(where.any()):
            continue
        ratio = image[index] / shading[index].clamp_min(1e-3) / start[index].clamp_min(0.02)
        gain = _local_quantile(ratio, where, LOCAL_WINDOW, LOCAL_QUANTILE)
        expected[index] = start[index] * gain * shading[index]
    return expected


def _local_quantile(values: Tensor, mask: Tensor, window: float, quantile: float) -> Tensor:
    """Per channel of ``values (H, W, C)``, the ``quantile`` over the ``mask``ed pixels within
    a square ``window`` of the mask's extent across, at a resolution of about 64 pixels over
    the extent (a coarser grid is a cheaper sort, and the window is wide): ``(H, W, C)``."""
    rows, columns = mask.nonzero(as_tuple=True)
    extent = int(max(rows.max() - rows.min(), columns.max() - columns.min())) + 1
    factor = max(1, round(extent / 64))
    weights = mask[None, None].to(values.dtype)
    planes = values.permute(2, 0, 1)[None] * weights
    pooled = torch.nn.functional.avg_pool2d(planes, factor, ceil_mode=True)
    coverage = torch.nn.functional.avg_pool2d(weights, factor, ceil_mode=True)
    low = (pooled / coverage.clamp_min(1e-6))[0]
    low[:, coverage[0, 0] < 0.5] = math.nan
    size = 2 * max(1, round(window * extent / factor / 2)) + 1
    padded = torch.nn.functional.pad(low[None], (size // 2,) * 4, value=math.nan)[0]
    patches = padded.unfold(1, size, 1).unfold(2, size, 1)  # (C, h, w, size, size)
    local = torch.nanquantile(patches.flatten(-2), quantile, dim=-1)  # (C, h, w)
    overall = torch.nanquantile(values[mask].T, quantile, dim=-1)
    local = torch.where(local.isnan(), overall[:, None, None], local)
    full = local.repeat_interleave(factor, 1).repeat_interleave(factor, 2)
    return full[:, : values.shape[0], : values.shape[1]].permute(1, 2, 0)


def fit_highlights(
    normals: Tensor,
    views: Tensor,
    image: Tensor,
    expected: Tensor,
    mask: Tensor,
    lamps: list[Tensor | None],
) -> tuple[Tensor, list[Highlight]]:
    """The highlights of ``image (B, H, W, 3)``: the colour ``(B, H, W)`` they add (the same
    in every channel; 0 where none and outside ``mask``) and those found, one at most per
    image, from the lamp near ``lamps[b]`` (``lamp_direction``; None: not searched).

    ``normals (B, H, W, 3)``: unit surface normals at each pixel; ``views (B, H, W, 3)``: unit
    directions from the surface to the camera; ``expected (B, H, W, 3)``: the diffuse colour
    the image would show without highlights, as best known (the starting texture under the
    fitted shading); ``mask (B, H, W)``: the pixels to use."""
    added = torch.zeros(mask.shape, dtype=image.dtype, device=image.device)
    found: list[Highlight] = []
    for index, lamp in enumerate(lamps):
        where = mask[index]
        # Clipped pixels only say the colour reached 1: the highlight is fitted without them.
        usable = where & (image[index].max(dim=-1).values < CLIPPED)
        if lamp is None or int(usable.sum()) < MIN_PIXELS:
            continue
        n, v = normals[index][usable], views[index][usable]
        excess = (image[index][usable] - expected[index][usable]).min(dim=-1).values
        highlight = _best_highlight(n, v, excess, lamp.to(normals))
        if highlight is not None:
            highlight = Highlight(index, *highlight)
            added[index][where] = highlight(normals[index][where], views[index][where])
            found.append(highlight)
    return added, found


def _best_highlight(
    normals: Tensor, views: Tensor, excess: Tensor, lamp: Tensor
) -> tuple[tuple[float, float, float], float, float, float] | None:
    """The highlight (lamp, strength, sharpness, explained) whose L1 fit to ``excess`` removes
    the most of it, if it passes the thresholds: lamps within ``LAMP_SEARCH`` of ``lamp``,
    then finer about the best, on at most ``SEARCH_PIXELS`` pixels; checked on all."""
    step = max(1, -(-len(excess) // SEARCH_PIXELS))
    some = normals[::step], views[::step], excess[::step]
    lamps = directions_around(lamp, math.radians(LAMP_SEARCH), 160)
    coarse = _score(*some, lamps, SHARPNESS)
    if coarse is None:
        return None
    index, _, sharpness = coarse
    lamps = directions_around(lamps[index], math.radians(4.0), 48)
    sharper = tuple(sharpness * 2.0 ** (quarter / 4.0) for quarter in range(-4, 5))
    fine = _score(*some, lamps, sharper)
    if fine is None:
        return None
    index, strength, sharpness = fine
    found = Highlight(0, tuple(float(x) for x in lamps[index]), strength, sharpness, 0.0)
    claimed = found(normals, views)
    inside = claimed > strength * _FOOTPRINT
    gain = excess[inside].abs().sum() - (excess[inside] - claimed[inside]).abs().sum()
    explained = float(gain) / float(claimed[inside].sum())
    if explained < MIN_EXPLAINED or int((claimed > MIN_STRENGTH / 2).sum()) < MIN_PIXELS:
        return None
    return found.lamp, strength, sharpness, explained


def _score(
    normals: Tensor,
    views: Tensor,
    excess: Tensor,
    lamps: Tensor,
    sharpnesses: tuple[float, ...],
) -> tuple[int, float, float] | None:
    """The (lamp index, strength, sharpness) among the candidates whose
    least-absolute-deviations fit to ``excess`` removes the most of it, among those that
    explain at least ``MIN_EXPLAINED`` of what they claim, peak at ``MIN_STRENGTH`` and fade
    out around their edge."""
    cosines = _half_cosines(normals, views, lamps)  # (N, D)
    best, best_gain = None, 0.0
    for sharpness in sharpnesses:
        shapes = cosines.pow(sharpness)
        # Only pixels in some candidate's footprint or the ring round it count.
        rows = (shapes > _FOOTPRINT**3).any(dim=1)
        if int(rows.sum()) < MIN_PIXELS:  # no surface faces these highlights
            continue
        shapes, left = shapes[rows], excess[rows]
        weights = shapes * (shapes > _FOOTPRINT)  # pixels outside a highlight cost the same
        strengths = weighted_quantiles(left[:, None] / shapes.clamp_min(1e-12), weights)
        claimed = strengths * weights
        gain = ((left[:, None].abs() - (left[:, None] - claimed).abs()) * (weights > 0)).sum(0)
        pixels = (claimed > MIN_STRENGTH / 2).sum(0) >= MIN_PIXELS
        # A highlight fades out; a brighter paint than expected goes on past it.
        ring = ((shapes <= _FOOTPRINT) & (shapes > _FOOTPRINT**3)).to(excess.dtype)
        around = weighted_quantiles(left[:, None], ring, AROUND_QUANTILE)
        good = (
            (strengths >= MIN_STRENGTH)
            & (gain >= MIN_EXPLAINED * claimed.sum(0))
            & pixels
            & (around <= MAX_AROUND * strengths)
        )
        if not bool(good.any()):
            continue
        gain = torch.where(good, gain, torch.zeros_like(gain))
        index = int(gain.argmax())
        if float(gain[index]) > best_gain:
            best_gain = float(gain[index])
            best = (index, float(strengths[index]), sharpness)
    return best


def _half_cosines(normals: Tensor, views: Tensor, lamps: Tensor) -> Tensor:
    """``max(n . h, 0)`` ``(..., D)`` for each of ``lamps (D, 3)``, ``h`` the unit half vector
    of the lamp and each pixel's view direction: ``(n . l + n . v) / |l + v|``."""
    lengths = (2.0 + 2.0 * views @ lamps.T).clamp_min(1e-6).sqrt()
    facing = normals @ lamps.T + (normals * views).sum(-1, keepdim=True)
    return (facing / lengths).clamp_min(0.0)
