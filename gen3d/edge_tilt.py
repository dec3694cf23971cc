"""How far a photo looks turned, read from its object's straight upright edges.

A level camera sees an object's vertical lines (a shelf's sides, a mug's walls, a mast) as
vertical lines in the picture; a camera held askew sees them turned by its roll. The picture
is turned through each candidate angle and its horizontal-gradient magnitude summed down the
columns: where the upright edges stand vertical, each falls into a few columns and the sum
of squared column sums peaks (the projection profile used to deskew scanned text). Its
height against the level picture's says how sure the reading is: objects without upright
lines (a snowman, a bowl) give a flat profile.

Perspective makes upright edges lean too: a camera looking down sees them lean towards each
other on either side of the picture, as much one way as the other. No roll explains that, so
``mirrored`` says how the opposite turn reads: below level for a real roll.

This needs no shape, so it also catches turns that the quick shape's silhouette cannot tell
apart from another view (boxes and cars, whose rolled outline looks like a level one from
elsewhere); the pipeline's straightening takes it where the silhouettes found no turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: the picture's side the edges are read at, and the turns tried (degrees either way, step)
TILT_RESOLUTION = 256
TILT_RANGE, TILT_STEP = 20.0, 0.5
#: the blur (pixels) that keeps noise and JPEG blocks from reading as edges
TILT_BLUR = 1.0


@dataclass(frozen=True)
class EdgeTilt:
    roll: float  # degrees the picture looks turned counter-clockwise (``ViewEstimate.roll``'s)
    strength: float  # the profile's peak over its height level: 1 at roll 0, higher is surer
    #: the profile at the opposite turn over its height level: as high as ``strength``, the
    #: edges lean both ways alike (a level camera looking down sees upright edges on either
    #: side lean towards each other), which no roll explains
    mirrored: float = 1.0


def edge_tilt(colours: Tensor, mask: Tensor | None = None) -> EdgeTilt:
    """The turn of ``colours (H, W, 3)`` in [0, 1] (a framed photo of one object on white,
    ``gen3d.image_view.prepared_photo``'s) at which its upright edges stand straightest, up
    to ``TILT_RANGE`` degrees either way; ``mask (H, W)``, the object's, adds its outline.
    A peak at the range's end is no reading (the edges lean further, or not at all) and
    comes back as roll 0."""
    grey = colours.float().mean(-1)
    if mask is not None:
        # The outline counts even where the object's colour is the background's.
        grey = torch.where(mask.bool(), grey * 0.5, grey)
    grey = _resized(grey, TILT_RESOLUTION)
    grey = _blurred(grey, TILT_BLUR)
    count = round(TILT_RANGE / TILT_STEP)
    angles = torch.arange(-count, count + 1, dtype=torch.float32) * TILT_STEP
    profile = _column_energy(grey, angles)
    best = int(profile.argmax())
    level = float(profile[count])
    strength = float(profile[best]) / max(level, 1e-12)
    if best in (0, len(angles) - 1):
        return EdgeTilt(0.0, 1.0)
    mirrored = float(profile[len(angles) - 1 - best]) / max(level, 1e-12)
    # A parabola through the peak and its neighbours places it between the steps.
    left, middle, right = (float(v) for v in profile[best - 1 : best + 2])
    curve = left - 2.0 * middle + right
    offset = 0.5 * (left - right) / curve if curve < 0 else 0.0
    # The picture was turned by -angle to stand its edges upright: it looks turned by angle.
    roll = -(float(angles[best]) + offset * TILT_STEP)
    return EdgeTilt(roll, strength, mirrored)


def _column_energy(grey: Tensor, angles: Tensor) -> Tensor:
    """For each of ``angles`` (degrees): ``grey (S, S)`` (white outside) turned by it on a
    canvas that keeps its corners, and the sum of squares of its column sums of horizontal
    gradient magnitude."""
    size = grey.shape[0]
    radians = torch.deg2rad(angles)
    cos, sin = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(cos)
    # On a canvas sqrt(2) the size, so that no corner of the picture falls off.
    grow = 2.0**0.5
    theta = torch.stack(
        [torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], -2
    ) * torch.tensor([grow, grow, 1.0])
    canvas = round(size * grow)
    grid = F.affine_grid(theta, [len(angles), 1, canvas, canvas], align_corners=False)
    # Sampled as the difference from white, so that outside the picture reads as white.
    turned = F.grid_sample(
        (grey - 1.0)[None, None].expand(len(angles), 1, size, size),
        grid,
        mode="bilinear",
        align_corners=False,
    )[:, 0]
    across = (turned[:, :, 2:] - turned[:, :, :-2]).abs()
    return across.sum(1).square().sum(1)


def _resized(grey: Tensor, size: int) -> Tensor:
    mode = "area" if grey.shape[0] > size else "bilinear"
    options = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(grey[None, None], size=(size, size), mode=mode, **options)[0, 0]


def _blurred(grey: Tensor, sigma: float) -> Tensor:
    radius = int(3 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(grey[None, None], (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    return F.conv2d(rows, kernel.view(1, 1, -1, 1))[0, 0]
