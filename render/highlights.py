"""Specular highlights in a photo, so that refinement does not paint them on.

A glossy surface reflects the light straight back where its normal is near the half vector
between the light and the viewer: a bright blob, the light's colour (white, for a white
lamp), added to the paint's diffuse colour. Refined against as it is, the blob ends up in the
texture, a white patch seen from every side.

A single light's highlight, seen from one camera, is a function of the surface normal alone:
``strength * max(n . h, 0) ** sharpness`` (Blinn-Phong), four numbers. It is fitted to what
the diffuse model leaves unexplained: the photo less the expected diffuse colour (the texture
refinement starts from, under the fitted shading), taking the smallest of the three channels'
excess, since a white addition raises every channel while a wrong paint colour lowers at
least one. The half vector and sharpness are searched on a grid (directions over the sphere,
sharpness 16-256), the strength for each is the least-absolute-deviations fit (a weighted
median), and a lobe is kept only when it explains most of the excess it claims: a lobe that
fits a wrongly painted region (its excess flat, not peaked at one normal) or noise is
refused, so photos without highlights are left alone. Up to ``max_lobes`` lights are found,
one after the other.

What is left to refine against is the photo less the highlight. Where the photo clipped
(a channel at 1), the paint under the highlight cannot be read, and those pixels are left
out of the fit instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

#: highlight sharpness (the Blinn-Phong exponent) tried: from a satin sheen to a polished
#: surface's pinpoint
SHARPNESS = (16.0, 32.0, 64.0, 128.0, 256.0)
#: half vectors tried: a Fibonacci lattice over the sphere (about 6 degrees apart)
DIRECTIONS = 1000
#: a lobe is kept when its fit removes at least this share of the excess it claims
MIN_EXPLAINED = 0.8
#: and peaks at least this bright (0-1 colour added)
MIN_STRENGTH = 0.08
#: and the excess just outside it is at most this share of its peak (a highlight fades out)
MAX_AROUND = 0.2
#: (its upper quartile: a brighter paint on any side of it counts)
AROUND_QUANTILE = 0.75
#: and adds at least ``MIN_STRENGTH / 2`` on this many pixels
MIN_PIXELS = 12
#: a photo's channel this bright may have been clipped
CLIPPED = 254.5 / 255.0
#: lobes below this value are not worth the search's pixels
_FOOTPRINT = 0.01
#: the coarse search looks at this many pixels at most (evenly strided)
SEARCH_PIXELS = 4000
#: and fits this many directions at most, those with the most excess about them
CANDIDATES = 64


@dataclass(frozen=True)
class Highlight:
    """One light's highlight seen in one image: ``strength * max(n . h, 0) ** sharpness``."""

    image: int  # which reference image
    direction: tuple[float, float, float]  # h, unit: the normal at the highlight's peak
    strength: float  # colour added at the peak
    sharpness: float  # the exponent: higher is a smaller, sharper highlight
    explained: float  # share of the excess it claims that the fit removed

    def __call__(self, normals: Tensor) -> Tensor:
        h = normals.new_tensor(self.direction)
        return self.strength * (normals @ h).clamp_min(0.0).pow(self.sharpness)


def fit_highlights(
    normals: Tensor,
    image: Tensor,
    expected: Tensor,
    mask: Tensor,
    *,
    max_lobes: int = 2,
) -> tuple[Tensor, list[Highlight]]:
    """The highlights of ``image (B, H, W, 3)``: the colour ``(B, H, W)`` they add (the same
    in every channel; 0 where none, and outside ``mask``) and the lobes found.

    ``normals (B, H, W, 3)``: unit surface normals at each pixel; ``expected (B, H, W, 3)``:
    the diffuse colour the image would show without highlights, as best known (the starting
    texture under the fitted shading); ``mask (B, H, W)``: the pixels to use."""
    added = torch.zeros(mask.shape, dtype=image.dtype, device=image.device)
    found: list[Highlight] = []
    directions = _fibonacci_sphere(DIRECTIONS).to(normals)
    for index in range(mask.shape[0]):
        where = mask[index]
        # Clipped pixels only say the colour reached 1: the lobes are fitted without them.
        usable = where & (image[index].max(dim=-1).values < CLIPPED)
        if int(usable.sum()) < MIN_PIXELS:
            continue
        n = normals[index][usable]
        excess = (image[index][usable] - expected[index][usable]).min(dim=-1).values
        lobes: list[Highlight] = []
        for _ in range(max_lobes):
            left = excess - sum((lobe(n) for lobe in lobes), torch.zeros_like(excess))
            lobe = _best_lobe(n, left, directions)
            if lobe is None:
                break
            lobes.append(Highlight(index, *lobe))
        seen = normals[index][where]
        added[index][where] = sum((lobe(seen) for lobe in lobes), torch.zeros(len(seen)))
        found += lobes
    return added, found


def _best_lobe(
    normals: Tensor, excess: Tensor, directions: Tensor
) -> tuple[tuple[float, float, float], float, float, float] | None:
    """The lobe (direction, strength, sharpness, explained) whose L1 fit to ``excess``
    removes the most of it, if it passes the thresholds: the coarse search on at most
    ``SEARCH_PIXELS`` pixels, then around the best direction on all of them."""
    step = max(1, -(-len(excess) // SEARCH_PIXELS))
    coarse = _score(normals[::step], excess[::step], directions, SHARPNESS)
    if coarse is None:
        return None
    direction, _, sharpness = coarse
    nearby = _around(directions[direction], math.radians(6.0), 48)
    sharper = tuple(sharpness * 2.0 ** (step / 4.0) for step in range(-4, 5))
    fine = _score(normals, excess, nearby, sharper)
    if fine is None:
        return None
    index, strength, sharpness = fine
    lobe = Highlight(0, tuple(float(v) for v in nearby[index]), strength, sharpness, 0.0)
    g = lobe(normals) / strength
    inside = g > _FOOTPRINT
    claimed = strength * g[inside]
    gain = float(excess[inside].abs().sum() - (excess[inside] - claimed).abs().sum())
    explained = gain / float(claimed.sum())
    if explained < MIN_EXPLAINED or int((claimed > MIN_STRENGTH / 2).sum()) < MIN_PIXELS:
        return None
    return lobe.direction, strength, sharpness, explained


def _score(
    normals: Tensor, excess: Tensor, directions: Tensor, sharpnesses: tuple[float, ...]
) -> tuple[int, float, float] | None:
    """The (direction index, strength, sharpness) among the candidates whose
    least-absolute-deviations fit to ``excess`` removes the most of it, among those that
    explain at least ``MIN_EXPLAINED`` of what they claim and peak at ``MIN_STRENGTH``."""
    cosines = (normals @ directions.T).clamp_min(0.0)  # (N, D)
    # A highlight's peak shows as excess on the pixels facing its direction: only the
    # directions with the most there are fitted.
    near = (cosines > math.cos(math.radians(8.0))).to(excess.dtype)
    peak = (excess @ near) / near.sum(0).clamp_min(1.0)
    keep = (peak >= MIN_STRENGTH / 2).nonzero()[:, 0]
    keep = keep[peak[keep].argsort(descending=True)[:CANDIDATES]]
    if len(keep) == 0:
        return None
    cosines, offsets = cosines[:, keep], keep
    best, best_gain = None, 0.0
    for sharpness in sharpnesses:
        lobes = cosines.pow(sharpness)
        weights = lobes * (lobes > _FOOTPRINT)  # pixels outside a lobe cost the same
        ratios = excess[:, None] / lobes.clamp_min(1e-12)
        strengths = _weighted_medians(ratios, weights)  # (D,)
        claimed = strengths * weights
        gain = (excess[:, None].abs() - (excess[:, None] - claimed).abs()) * (weights > 0)
        gain = gain.sum(0)
        total = claimed.sum(0)
        pixels = (claimed > MIN_STRENGTH / 2).sum(0) >= MIN_PIXELS
        # A highlight fades out; a brighter paint than expected goes on past it.
        ring = ((lobes <= _FOOTPRINT) & (lobes > _FOOTPRINT**3)).to(excess.dtype)
        around = _weighted_medians(excess[:, None].expand_as(ring), ring, AROUND_QUANTILE)
        peaked = around <= MAX_AROUND * strengths
        good = (strengths >= MIN_STRENGTH) & (gain >= MIN_EXPLAINED * total) & pixels & peaked
        if not bool(good.any()):
            continue
        gain = torch.where(good, gain, torch.zeros_like(gain))
        index = int(gain.argmax())
        if float(gain[index]) > best_gain:
            best_gain = float(gain[index])
            best = (int(offsets[index]), float(strengths[index]), sharpness)
    return best


def _weighted_medians(values: Tensor, weights: Tensor, quantile: float = 0.5) -> Tensor:
    """Per column of ``values (N, D)``, the weighted ``quantile`` (the median: the ``k``
    minimising ``sum(weights * |values - k|)``); 0 for a column without weight."""
    values, weights = values.T, weights.T  # sorting along the contiguous dimension is faster
    order = values.argsort(dim=1)
    cumulative = weights.gather(1, order).cumsum(1)
    cut = cumulative[:, -1:] * quantile
    position = (cumulative < cut).sum(1, keepdim=True).clamp_max(values.shape[1] - 1)
    medians = values.gather(1, order.gather(1, position))[:, 0]
    return torch.where(cumulative[:, -1] > 0, medians, torch.zeros_like(medians))


def _around(direction: Tensor, radius: float, count: int) -> Tensor:
    """``direction`` and ``count`` unit vectors within ``radius`` (radians) of it."""
    helper = direction.new_tensor(
        [1.0, 0.0, 0.0] if abs(float(direction[0])) < 0.9 else [0.0, 1.0, 0.0]
    )
    u = torch.nn.functional.normalize(torch.linalg.cross(direction, helper), dim=0)
    w = torch.linalg.cross(direction, u)
    index = torch.arange(count, dtype=direction.dtype, device=direction.device) + 0.5
    spread = radius * (index / count).sqrt()  # even over the disc
    turn = index * math.pi * (3.0 - math.sqrt(5.0))
    offsets = spread.sin()[:, None] * (turn.cos()[:, None] * u + turn.sin()[:, None] * w)
    around = spread.cos()[:, None] * direction + offsets
    return torch.cat([direction[None], torch.nn.functional.normalize(around, dim=-1)])


def _fibonacci_sphere(count: int) -> Tensor:
    """``count`` unit vectors ``(count, 3)`` spread evenly over the sphere."""
    index = torch.arange(count, dtype=torch.float64) + 0.5
    y = 1.0 - 2.0 * index / count
    radius = (1.0 - y * y).sqrt()
    angle = math.pi * (3.0 - math.sqrt(5.0)) * index
    return torch.stack([radius * angle.cos(), y, radius * angle.sin()], dim=-1).float()
