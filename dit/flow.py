"""The rectified-flow objective: straight paths from data to noise, velocity targets.

``x_t = (1 - t) x_0 + t * noise`` for t in [0, 1] (0 = data, 1 = noise); the model predicts
the velocity ``dx_t/dt = noise - x_0``. This is the convention of SD3 and of diffusers'
``FlowMatchEulerDiscreteScheduler`` (sigma = t), so sampling needs no conversion.

Timesteps are drawn logit-normal (SD3): ``t = sigmoid(n)``, ``n ~ N(mean, std)``, which
trains the middle of the path, where the velocity is hardest to predict, most. Conditions
are dropped (replaced by the unconditional embedding) with probability ``p`` so the same
model serves classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Conditioning:
    """What a DiT is conditioned on: tokens ``(B, L, D)``, a mask ``(B, L)`` (True = real
    token) and a pooled embedding ``(B, P)``."""

    tokens: torch.Tensor
    pooled: torch.Tensor
    mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def to(self, device: torch.device | str) -> Conditioning:
        mask = None if self.mask is None else self.mask.to(device)
        return Conditioning(self.tokens.to(device), self.pooled.to(device), mask)

    def expand(self, batch: int) -> Conditioning:
        """A batch of one repeated ``batch`` times (e.g. the unconditional embedding)."""
        if len(self) == batch:
            return self
        if len(self) != 1:
            raise ValueError(f"cannot expand a conditioning batch of {len(self)} to {batch}")
        mask = None if self.mask is None else self.mask.expand(batch, -1)
        return Conditioning(self.tokens.expand(batch, -1, -1), self.pooled.expand(batch, -1), mask)

    def full_mask(self) -> torch.Tensor:
        """The mask, or all True where there is none (every token real)."""
        if self.mask is not None:
            return self.mask
        return torch.ones(self.tokens.shape[:2], dtype=torch.bool, device=self.tokens.device)

    @staticmethod
    def cat(parts: list[Conditioning]) -> Conditioning:
        return Conditioning(
            torch.cat([p.tokens for p in parts]),
            torch.cat([p.pooled for p in parts]),
            torch.cat([p.full_mask() for p in parts]),
        )


def logit_normal_timesteps(
    batch: int,
    mean: float = 0.0,
    std: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """``(batch,)`` flow times in (0, 1), logit-normally distributed (SD3)."""
    normal = torch.randn(batch, generator=generator, device=device)
    return torch.sigmoid(mean + std * normal)


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - t) x0 + t noise`` with ``t (B,)`` broadcast over the latent dims."""
    t = t.to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
    return (1 - t) * x0 + t * noise


def drop_conditions(
    cond: Conditioning,
    uncond: Conditioning,
    probability: float,
    generator: torch.Generator | None = None,
) -> Conditioning:
    """Replace each item's condition by ``uncond`` with ``probability`` (for CFG training)."""
    if probability <= 0:
        return cond
    batch = len(cond)
    uncond = uncond.expand(batch)
    drop = torch.rand(batch, generator=generator, device=cond.tokens.device) < probability
    if cond.tokens.shape[1] != uncond.tokens.shape[1]:
        raise ValueError("conditional and unconditional token counts differ")
    tokens = torch.where(drop[:, None, None], uncond.tokens, cond.tokens)
    pooled = torch.where(drop[:, None], uncond.pooled, cond.pooled)
    mask = None
    if cond.mask is not None or uncond.mask is not None:
        mask = torch.where(drop[:, None], uncond.full_mask(), cond.full_mask())
    return Conditioning(tokens, pooled, mask)


def flow_matching_loss(
    model: torch.nn.Module,
    x0: torch.Tensor,
    cond: Conditioning,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
) -> torch.Tensor:
    """Mean squared error between the model's velocity at ``x_t`` and ``noise - x0``."""
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    if t is None:
        t = logit_normal_timesteps(x0.shape[0], logit_mean, logit_std, generator, x0.device)
    x_t = interpolate(x0, noise, t)
    velocity = model(x_t, t, cond.tokens, cond.pooled, cond.mask)
    return F.mse_loss(velocity.float(), (noise - x0).float())
