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
"""

from __future__ import annotations

import torch
from torch import Tensor

BRIGHT_QUANTILE = 0.98
#: the shading's floor: a surface in deep shadow is lifted at most 10x, not infinitely
MIN_SHADING = 0.1
_LUMA = (0.2126, 0.7152, 0.0722)


def sh_basis(normals: Tensor) -> Tensor:
    """Second-order spherical-harmonic basis ``(..., 9)`` of unit ``normals (..., 3)``
    (unnormalised: the coefficients are fitted, so the constants do not matter)."""
    x, y, z = normals.unbind(-1)
    return torch.stack(
        [torch.ones_like(x), x, y, z, x * y, y * z, x * z, x * x - y * y, 3.0 * z * z - 1.0],
        dim=-1,
    )


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
    if stride is None:
        stride = max(1, round(min(mask.shape[1:]) / 96))
    image = image.to(normals)
    brightness = (image * image.new_tensor(_LUMA)).sum(-1).clamp_min(1.0 / 255.0).log()
    basis = sh_basis(normals)[..., 1:]  # the constant term has no difference
    rows, targets = [], []
    for axis in (1, 2):  # neighbours down and across
        length = mask.shape[axis] - stride
        both = mask.narrow(axis, 0, length) & mask.narrow(axis, stride, length)

        def step(values: Tensor, axis: int = axis, length: int = length) -> Tensor:
            return values.narrow(axis, stride, length) - values.narrow(axis, 0, length)

        rows.append(step(basis)[both])
        targets.append(step(brightness)[both])
    design, target = torch.cat(rows).double(), torch.cat(targets).double()
    shading = torch.ones(mask.shape, dtype=normals.dtype, device=normals.device)
    if len(target) < 2 * design.shape[1]:
        return shading, 0.0
    coefficients = torch.zeros(design.shape[1], dtype=torch.float64, device=design.device)
    ridge = 1e-6 * torch.eye(design.shape[1], dtype=torch.float64, device=design.device)
    for _ in range(iterations):
        residual = (target - design @ coefficients).abs()
        weight = 1.0 / residual.clamp_min(1e-3)  # |r| = r^2 / |r|: reweighted towards L1
        weighted = design * weight[:, None]
        coefficients = torch.linalg.solve(design.T @ weighted + ridge, weighted.T @ target)
    log_shading = (basis[mask].double() @ coefficients).to(normals.dtype)
    log_shading = log_shading - torch.quantile(log_shading, BRIGHT_QUANTILE)
    values = log_shading.exp().clamp(MIN_SHADING, 1.0)
    shading[mask] = values
    return shading, float(1.0 - torch.quantile(values, 1.0 - BRIGHT_QUANTILE))
