"""Training losses of the shape VAEs, computed through the decoded field's ``query``.

- sdf: L1 between predicted and true SDF where the truth is within ``truncation`` of the
  surface, plus a sign (occupancy) term farther away, where only inside/outside matters;
- normal: 1 - cos between the SDF gradient at surface points and the true normals;
- eikonal: (|grad sdf| - 1)^2 at near-surface and volume points, keeping the field a distance;
- colour: L1 on RGB at surface points of shapes that have colour;
- kl: the posterior's KL to N(0, I), with a small weight (a VAE that must stay decodable).

Gradients are taken by autograd on the query points, so any field works.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from .field import DecodedField, DiagonalGaussian


@dataclass(frozen=True)
class LossWeights:
    sdf: float = 1.0
    sign: float = 0.1
    normal: float = 0.1
    eikonal: float = 0.01
    colour: float = 0.5
    kl: float = 1e-4
    #: distance (unit-cube units) within which SDF values are regressed exactly
    truncation: float = 0.05
    #: points per shape (of the surface, and of the near and volume samples) where the
    #: normal and eikonal terms are taken; 0 = all. Those terms differentiate the field
    #: twice, which costs several times a plain query: a subset keeps their signal at a
    #: fraction of the cost.
    gradient_points: int = 0

    def __post_init__(self) -> None:
        if self.truncation <= 0:
            raise ValueError(f"truncation must be positive, not {self.truncation}")
        if self.gradient_points < 0:
            raise ValueError(f"gradient_points must be >= 0, not {self.gradient_points}")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def sdf_loss(
    pred: torch.Tensor, target: torch.Tensor, truncation: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(near L1, far sign loss)`` over SDF predictions and targets of the same shape."""
    near = target.abs() < truncation
    l1 = (pred - target).abs()
    near_loss = (l1 * near).sum() / near.sum().clamp(min=1)
    # Far away only the sign is learnt: a logistic loss on -sdf, sharp at the truncation scale.
    inside = (target < 0).to(pred.dtype)
    far = ~near
    sign = F.binary_cross_entropy_with_logits(-pred / truncation, inside, reduction="none")
    far_loss = (sign * far).sum() / far.sum().clamp(min=1)
    return near_loss, far_loss


def _gradient(sdf: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(sdf.sum(), xyz, create_graph=True)
    return grad


def _by_kind(
    graded: torch.Tensor, rest: torch.Tensor, graded_sizes: list[int], rest_sizes: list[int]
) -> list[torch.Tensor]:
    """Near, volume and surface values, each its graded part then the rest: the batch's
    own order, which the targets follow."""
    pairs = zip(graded.split(graded_sizes, dim=1), rest.split(rest_sizes, dim=1), strict=True)
    return [torch.cat(pair, dim=1) for pair in pairs]


def reconstruction_losses(
    field: DecodedField,
    batch: dict[str, torch.Tensor],
    posterior: DiagonalGaussian | None,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """All terms and their weighted ``total`` for one batch (the ShapeDataset item layout:
    surface_points/normals/colours, has_colour, near_points/sdf, volume_points/sdf)."""
    surface, near, volume = batch["surface_points"], batch["near_points"], batch["volume_points"]
    k = weights.gradient_points
    n_surface, n_near, n_volume = (
        (x.shape[1] if k == 0 else min(k, x.shape[1])) for x in (surface, near, volume)
    )
    # Points with gradient terms, as fresh leaves to differentiate against (detach leaves the
    # caller's tensors as they were): near, volume, then surface.
    graded = torch.cat(
        [near[:, :n_near], volume[:, :n_volume], surface[:, :n_surface]], dim=1
    ).detach()
    graded.requires_grad_(True)
    # The normal and eikonal terms differentiate d sdf / d xyz once more in backward; fused
    # attention kernels have no double backward, the math kernel does.
    with sdpa_kernel([SDPBackend.MATH]):
        graded_sdf, graded_rgb = field.query(graded)
    grad = _gradient(graded_sdf, graded)
    n_volumetric = n_near + n_volume
    normal = (
        1.0
        - F.cosine_similarity(
            grad[:, n_volumetric:], batch["surface_normals"][:, :n_surface], dim=-1
        )
    ).mean()
    eikonal = (grad[:, :n_volumetric].norm(dim=-1) - 1.0).pow(2).mean()

    # The remaining points need values only, not gradients in xyz: any attention kernel.
    rest = torch.cat([near[:, n_near:], volume[:, n_volume:], surface[:, n_surface:]], dim=1)
    if rest.shape[1]:
        rest_sdf, rest_rgb = field.query(rest.detach())
    else:
        rest_sdf, rest_rgb = graded_sdf[:, :0], graded_rgb[:, :0]
    graded_sizes = [n_near, n_volume, n_surface]
    rest_sizes = [
        x.shape[1] - n for x, n in zip((near, volume, surface), graded_sizes, strict=True)
    ]
    sdf = torch.cat(_by_kind(graded_sdf, rest_sdf, graded_sizes, rest_sizes), dim=1)
    target = torch.cat(
        [batch["near_sdf"], batch["volume_sdf"], torch.zeros_like(surface[..., 0])], dim=1
    )
    near_l1, far_sign = sdf_loss(sdf, target, weights.truncation)

    surface_rgb = _by_kind(graded_rgb, rest_rgb, graded_sizes, rest_sizes)[2]
    has_colour = batch["has_colour"].to(surface_rgb.dtype).view(-1, 1, 1)
    colour_err = (surface_rgb - batch["surface_colours"]).abs() * has_colour
    colour = colour_err.sum() / (has_colour.sum() * colour_err.shape[1] * 3).clamp(min=1)

    kl = posterior.kl().mean() if posterior is not None else sdf.new_zeros(())
    total = (
        weights.sdf * near_l1
        + weights.sign * far_sign
        + weights.normal * normal
        + weights.eikonal * eikonal
        + weights.colour * colour
        + weights.kl * kl
    )
    return {
        "total": total,
        "sdf": near_l1,
        "sign": far_sign,
        "normal": normal,
        "eikonal": eikonal,
        "colour": colour,
        "kl": kl,
    }
