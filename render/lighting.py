"""The lighting of a photo, so that refinement keeps the surface colour, not the light.

A photo shows albedo times shading. Refining a texture straight against it copies the shading
into the texture: the side away from the light comes out dark from every angle. Knowing the
mesh, and the view the photo was taken from, gives each pixel's surface normal, and the
shading is a smooth function of the normal.

The shading is fitted from the photo alone, as Retinex does (Land and McCann, 1971): between
neighbouring pixels the surface colour rarely changes, so the change in log brightness there
is the change in log shading, and where the colour does change (an edge between two paints)
the jump is an outlier that a least-absolute-deviations fit ignores. Log shading is modelled
as second-order spherical harmonics of the normal, which hold a Lambertian surface's light
from distant sources closely (Ramamoorthi and Hanrahan, 2001) and have nine numbers, too few
to carry texture detail. An evenly lit photo's brightness barely changes between neighbours
except at edges, so its fitted shading stays flat.

Differences fix the shading only up to a factor; it is scaled so that its brightest pixels
(the 98th percentile over the object) are 1: the best-lit surface shows its own colour, and
the rest is brightened to match it.

Flat faces (``fit_light(albedo=...)``): a box's faces each have one normal, so the change
between neighbours on a face says nothing about the light there, and the jumps at its edges
look like paint edges: from the photo alone a box lit face by face comes out evenly lit, and
refinement paints its darker faces darker. A guess at the surface colour (the texture a
model baked from the same photo) fixes that: the photo's ratio to the guess is the shading
up to the guess's errors, one more row per pixel for the fit, with a constant of its own
(the guess's overall brightness and colour cast are not the light's). That constant also
sets the light's level where it is dimmer than the 1 assumed above: a photo darker than
the guess is taken as dimly lit, down to ``MIN_BRIGHTEST``; a brighter one is not taken as
lit brighter than 1, where the guess would decide the paint's brightness outright. Measured
on bench_pose's 12 generated shapes refined for 50 steps from their photos' true views (PSNR
of the colour at the photo's view; ``RefineSettings``' default anchor weight): the shelf,
stool and toy car, which the photo's own changes read as evenly lit, rose from 13.4, 15.3
and 15.5 dB to 20.9, 18.9 and 22.7, and the 12 on average from 19.06 to 22.38.

Coloured light (``fit_coloured_shading``): a warm lamp beside a blue sky lights one side
orange and leaves the other blue. Each channel's log ratio to the brightness removes the grey
shading, and between neighbours of one paint its change is the change in the light's colour,
fitted the same way, as a smooth function of the normal. Differences fix it only up to a
colour, the light's colour on average, which cannot be told from the paint's; that is taken
to be grey (the tint's geometric mean over the object is 1 in every channel), so a photo lit
orange on one side and blue on the other comes out neither. A light of one colour everywhere
changes no ratio, so it stays in the texture.

Cast shadows (``fit_light(shadowed=...)``): no function of the normal holds a part's shadow
on another part, so where ``render.shadows`` finds surfaces hidden from the lamp, the log
shading gets one more term, that shadow term times a fitted constant per channel: the log of
the light's share left in the shadows, and of the shadows' change in colour (a blue sky's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

BRIGHT_QUANTILE = 0.98
#: the shading's floor: a surface in deep shadow is lifted at most 10x, not infinitely
MIN_SHADING = 0.1
#: fitted against a guess at the surface colour, the brightest light is as fitted where that
#: is dimmer than 1 (the photo darker than the guess), down to this: a guess far too bright
#: keeps the refined colour at most this much brighter than the photo shows it (no level
#: below 0.5 was fitted on bench_pose's 12 shapes; 0.25 measured the same)
MIN_BRIGHTEST = 0.5
#: the weight of each pixel's ratio to a guess at the surface colour against each pair of
#: neighbours' change: the guess is only a guess (0.1, 0.25, 0.5 and 1 measured within
#: 0.3 dB of each other on bench_pose's 12 shapes refined from their true views; 0.25 best)
RATIO_WEIGHT = 0.25
#: the light's colour may scale a channel by at most 2x either way (against a bad fit)
MAX_TINT = 2.0
_LOG_MAX_TINT = math.log(MAX_TINT)
#: the light fit's least squares reads at most this many rows (neighbour pairs and ratio
#: pixels, evenly strided): nine numbers per channel do not need a 384^2 photo's 30-300k.
#: On bench_light's photos a fit ran 1.4-6.5x faster and its log shading stayed within
#: 0.02-0.04 of every row's at most pixels; image to 3D refined as before to 0.01 dB
FIT_ROWS = 20_000
_LUMA = (0.2126, 0.7152, 0.0722)


def sh_basis(normals: Tensor) -> Tensor:
    """Second-order spherical-harmonic basis ``(..., 9)`` of unit ``normals (..., 3)``
    (unnormalised: the coefficients are fitted, so the constants do not matter)."""
    x, y, z = normals.unbind(-1)
    return torch.stack(
        [torch.ones_like(x), x, y, z, x * y, y * z, x * z, x * x - y * y, 3.0 * z * z - 1.0],
        dim=-1,
    )


@dataclass(frozen=True)
class LightFit:
    """A photo's fitted light (``fit_light``)."""

    #: ``(B, H, W)`` grey or ``(B, H, W, 3)`` coloured; 1 outside the mask
    shading: Tensor
    #: 1 - the grey shading's 2nd percentile over the mask (0 for an evenly lit photo)
    contrast: float
    #: with ``shadowed``: the share of the light left where the shadow term is 1 (below 1: the
    #: shadows are darker than the surfaces around them); None without
    shadow_light: float | None = None


def fit_light(
    normals: Tensor,
    image: Tensor,
    mask: Tensor,
    *,
    colour: bool = True,
    shadowed: Tensor | None = None,
    albedo: Tensor | None = None,
    iterations: int = 20,
    stride: int | None = None,
) -> LightFit:
    """The light on ``image (B, H, W, 3)`` over ``mask (B, H, W)``: grey shading
    (``fit_shading``) or, with ``colour``, per channel (``fit_coloured_shading``); with
    ``shadowed (B, H, W)`` (``render.shadows.shadow_term``), cast shadows too. One shadow
    darkening is fitted for the whole batch. With ``albedo (B, H, W, 3)``, a guess at the
    surface colour at each pixel (the texture refinement starts from), the photo's ratio to
    it is fitted too (see the module's notes on flat faces)."""
    stride = default_stride(mask) if stride is None else stride
    image = image.to(normals)
    values = _log_light_values(image, colour)
    extra = None if shadowed is None else shadowed.to(normals)[..., None]
    ratio = None
    if albedo is not None:
        ratio = values - _log_light_values(albedo.to(normals), colour)
    fitted = _fit_smooth_log(normals, values, mask, stride, iterations, extra, ratio)
    if fitted is None:
        shape = (*mask.shape, 3) if colour else mask.shape
        ones = torch.ones(shape, dtype=normals.dtype, device=normals.device)
        return LightFit(ones, 0.0, None if shadowed is None else 1.0)
    log_values, extra_coefficients = fitted
    grey, contrast = _grey_shading(log_values[:, 0], mask, absolute=ratio is not None)
    shadow_light = None
    if extra_coefficients is not None:
        shadow_light = math.exp(float(extra_coefficients[0, 0]))
    if not colour:
        return LightFit(grey, contrast, shadow_light)
    # The tint's level stays grey even against a guess at the colours: taking the photo's
    # colour cast for the light's measured worse (bench_pose pipeline-refine, 12 shapes).
    log_tint = log_values[:, 1:] - log_values[:, 1:].mean(dim=0)
    shading = grey[..., None].repeat(1, 1, 1, 3)
    shading[mask] = grey[mask][:, None] * log_tint.clamp(-_LOG_MAX_TINT, _LOG_MAX_TINT).exp()
    return LightFit(shading, contrast, shadow_light)


def fit_shading(
    normals: Tensor,
    image: Tensor,
    mask: Tensor,
    *,
    iterations: int = 20,
    stride: int | None = None,
) -> tuple[Tensor, float]:
    """The grey shading ``(B, H, W)`` of ``image (B, H, W, 3)`` over ``mask (B, H, W)``, and
    its contrast: 1 - its 2nd percentile over the mask (0 for an evenly lit photo).

    ``normals (B, H, W, 3)`` are the unit surface normals seen at each pixel. The fit is
    least absolute deviations of neighbouring pixels' log-brightness differences, by
    iteratively reweighted least squares. Outside the mask the shading is 1.

    The neighbours are ``stride`` pixels apart (default: one per 96 pixels of the image's
    side). Next-door pixels of an 8-bit photo, or of one enlarged to the working size, mostly
    differ by nothing or by one level, which the fit reads as no shading; further apart, the
    light's change outgrows the rounding (measured on a lit ball photographed at 192^2 and
    enlarged to 384^2: contrast 0.25 at stride 1, 0.69 at stride 4, against 0.69 true).
    """
    fit = fit_light(normals, image, mask, colour=False, iterations=iterations, stride=stride)
    return fit.shading, fit.contrast


def fit_coloured_shading(
    normals: Tensor,
    image: Tensor,
    mask: Tensor,
    *,
    iterations: int = 20,
    stride: int | None = None,
) -> tuple[Tensor, float]:
    """``fit_shading`` with the light's colour: the shading ``(B, H, W, 3)``, per channel, of
    ``image (B, H, W, 3)`` over ``mask``, and the grey shading's contrast.

    The grey shading times a tint per channel: how the light's colour changes over the
    object, relative to its mean (the tint's geometric mean over the mask is 1 in every
    channel). The tint is fitted like the grey shading, from neighbouring pixels'
    differences of each channel's log ratio to the brightness, and kept within
    ``[1 / MAX_TINT, MAX_TINT]``. An evenly coloured light gives a tint of 1.
    """
    fit = fit_light(normals, image, mask, colour=True, iterations=iterations, stride=stride)
    return fit.shading, fit.contrast


def _grey_shading(
    log_shading: Tensor, mask: Tensor, absolute: bool = False
) -> tuple[Tensor, float]:
    """The shading ``(B, H, W)`` from its fitted log at the masked pixels, floored at
    ``MIN_SHADING``, and its contrast: 1 - the darkest (the 2nd percentile) over the brightest
    (``BRIGHT_QUANTILE``). Scaled so that the brightest are 1 or, ``absolute``, as fitted
    where that is dimmer, down to ``MIN_BRIGHTEST``."""
    brightest = torch.quantile(log_shading, BRIGHT_QUANTILE)
    darkest = torch.quantile(log_shading, 1.0 - BRIGHT_QUANTILE)
    contrast = float(1.0 - (darkest - brightest).exp().clamp_min(MIN_SHADING))
    level = brightest.clamp(max=0.0, min=math.log(MIN_BRIGHTEST)) if absolute else 0.0
    values = (log_shading - brightest + level).exp().clamp(MIN_SHADING, 1.0)
    shading = torch.ones(mask.shape, dtype=values.dtype, device=values.device)
    shading[mask] = values
    return shading, contrast


def _log_light_values(image: Tensor, colour: bool) -> Tensor:
    """What the light fit reads of ``image (B, H, W, 3)``: its log brightness ``(B, H, W, 1)``
    and, with ``colour``, each channel's log ratio to it (``(B, H, W, 4)``): the brightness
    and the ratios share the normals' neighbour differences, so one design fits them all."""
    brightness = log_luma(image)[..., None]
    if not colour:
        return brightness
    ratios = image.clamp_min(1.0 / 255.0).log() - brightness
    return torch.cat([brightness, ratios], dim=-1)


def default_stride(mask: Tensor) -> int:
    """The neighbour distance the fits use for images of ``mask``'s size."""
    return max(1, round(min(mask.shape[1:]) / 96))


def log_luma(image: Tensor) -> Tensor:
    """The log of each pixel's brightness ``(B, H, W)`` (Rec. 709 luma, at least 1/255)."""
    return (image * image.new_tensor(_LUMA)).sum(-1).clamp_min(1.0 / 255.0).log()


def neighbour_steps(mask: Tensor, stride: int, *images: Tensor) -> list[Tensor]:
    """For each of ``images (B, H, W, ...)``, its changes ``(M, ...)`` between the pixel
    pairs ``stride`` apart, down then across, where ``mask (B, H, W)`` holds both."""
    steps: list[list[Tensor]] = [[] for _ in images]
    for axis in (1, 2):  # neighbours down and across
        length = mask.shape[axis] - stride
        both = mask.narrow(axis, 0, length) & mask.narrow(axis, stride, length)
        for found, image in zip(steps, images, strict=True):
            found.append((image.narrow(axis, stride, length) - image.narrow(axis, 0, length))[both])
    return [torch.cat(found) for found in steps]


def _fit_smooth_log(
    normals: Tensor,
    values: Tensor,
    mask: Tensor,
    stride: int,
    iterations: int,
    extra: Tensor | None = None,
    ratio: Tensor | None = None,
) -> tuple[Tensor, Tensor | None] | None:
    """Smooth functions of the normal (spherical harmonics, up to a constant), one per channel
    of ``values (B, H, W, K)``, whose changes between neighbours ``stride`` pixels apart match
    that channel's in least absolute deviations (iteratively reweighted least squares, each
    channel with its own weights, on at most ``FIT_ROWS`` of the rows), at the masked
    pixels: ``(masked pixels, K)``, plus, per channel, a multiple of each ``extra (B, H, W,
    E)`` term, whose coefficients ``(E, K)`` come second (None without ``extra``); None when
    too few neighbours are masked to fit them.

    ``ratio (B, H, W, K)``: the same values measured against a guess at the surface colour;
    each masked pixel's is one more row to match, up to a constant per channel of its own."""
    basis = sh_basis(normals)[..., 1:]  # the constant term has no difference
    if extra is not None:
        basis = torch.cat([basis, extra], dim=-1)
    rows, targets = neighbour_steps(mask, stride, basis, values)
    design, target = rows.double(), targets.double()  # (M, 8 + E), (M, K)
    if len(target) < 2 * design.shape[1]:
        return None
    at_pixels = basis[mask].double()  # (masked pixels, 8 + E)
    if ratio is not None:
        # The ratio rows' own constant (the guess's overall brightness and colour cast, which
        # is not the light's) is one more column, zero on the difference rows.
        with_constant = torch.nn.functional.pad(at_pixels, (0, 1), value=1.0)
        design = torch.cat([torch.nn.functional.pad(design, (0, 1)), RATIO_WEIGHT * with_constant])
        target = torch.cat([target, RATIO_WEIGHT * ratio[mask].double()])
    step = -(-len(target) // FIT_ROWS)
    design, target = design[::step], target[::step]
    size, channels = design.shape[1], target.shape[1]
    coefficients = torch.zeros(size, channels, dtype=torch.float64, device=design.device)
    ridge = 1e-6 * torch.eye(size, dtype=torch.float64, device=design.device)
    # Each row's outer product (its upper triangle), once: every iteration's normal equations
    # are then one matrix product with the weights, several times faster than contracting
    # the design, weights and design again each time.
    first, second = torch.triu_indices(size, size, device=design.device).unbind()
    outer = design[:, first] * design[:, second]  # (M, size * (size + 1) / 2)
    for _ in range(iterations):
        residual = (target - design @ coefficients).abs()
        weight = 1.0 / residual.clamp_min(1e-3)  # |r| = r^2 / |r|: reweighted towards L1
        normal = ridge.repeat(channels, 1, 1)
        normal[:, first, second] += weight.T @ outer
        normal[:, second, first] = normal[:, first, second]
        right = (weight * target).T @ design
        coefficients = torch.linalg.solve(normal, right).T
    fitted = at_pixels @ coefficients[: basis.shape[-1]]
    if ratio is not None:  # the light's level too: the ratio rows' constant
        fitted = fitted + coefficients[-1]
        coefficients = coefficients[:-1]
    fitted = fitted.to(normals.dtype)
    if extra is None:
        return fitted, None
    return fitted, coefficients[-extra.shape[-1] :]
