"""Sampling shape latents with diffusers' ``FlowMatchEulerDiscreteScheduler``.

The scheduler owns the timesteps (with its ``shift``) and the Euler update; this loop only
evaluates the model, applies classifier-free guidance
``v = v_uncond + guidance * (v_cond - v_uncond)`` and reports each step to a callback that
can cancel (return False). Seeds: pass a ``torch.Generator`` (or a list, one per item) and
the same inputs give the same latents.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from .base import TIME_SCALE
from .flow import Conditioning

#: ``callback(step, steps, t, latents)``; returning False cancels sampling
StepCallback = Callable[[int, int, float, torch.Tensor], bool | None]


class SamplingCancelled(RuntimeError):
    """A step callback asked to stop."""


def make_scheduler(shift: float = 1.0) -> FlowMatchEulerDiscreteScheduler:
    if shift <= 0:
        raise ValueError(f"shift must be positive, not {shift}")
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=int(TIME_SCALE), shift=shift)


def initial_noise(
    shape: tuple[int, ...],
    generator: torch.Generator | list[torch.Generator] | None,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``(B, *latent)`` standard normal noise; a list of generators seeds each item apart, so
    an item's result does not depend on its batch neighbours."""
    if isinstance(generator, list):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
        return torch.cat(
            [
                torch.randn((1, *shape[1:]), generator=g, device=device, dtype=dtype)
                for g in generator
            ]
        )
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


@torch.no_grad()
def sample_latents(
    model: torch.nn.Module,
    cond: Conditioning,
    uncond: Conditioning | None = None,
    *,
    steps: int = 25,
    guidance: float = 3.0,
    shift: float = 1.0,
    generator: torch.Generator | list[torch.Generator] | None = None,
    latents: torch.Tensor | None = None,
    init_latents: torch.Tensor | None = None,
    strength: float = 1.0,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Latents ``(B, *latent_shape)`` for a batch of conditions.

    ``uncond`` (one item or a batch) enables guidance when ``guidance != 1``; ``latents``
    overrides the starting noise.

    ``init_latents`` (clean latents, standardised like the model's) with ``strength`` in
    (0, 1] starts part-way (SDEdit): they are noised to the flow time of the first of the
    last ``round(steps * strength)`` steps, and only those steps run. Strength 1 ignores
    them; small strengths stay close to them.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, not {steps}")
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, not {guidance}")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], not {strength}")
    batch = len(cond)
    device = cond.tokens.device
    shape = (batch, *model.layout.shape)
    if latents is None:
        latents = initial_noise(shape, generator, device)
    elif tuple(latents.shape) != shape:
        raise ValueError(f"starting latents must be {shape}, not {tuple(latents.shape)}")
    guided = uncond is not None and guidance != 1.0
    both = Conditioning.cat([uncond.expand(batch), cond]) if guided else cond
    scheduler = make_scheduler(shift)
    scheduler.set_timesteps(steps, device=device)
    start = 0
    if init_latents is not None and strength < 1.0:
        if tuple(init_latents.shape) != shape:
            raise ValueError(f"init_latents must be {shape}, not {tuple(init_latents.shape)}")
        start = steps - max(1, round(steps * strength))
        sigma = scheduler.sigmas[start].to(latents.dtype)
        latents = sigma * latents + (1 - sigma) * init_latents.to(latents)
        scheduler.set_begin_index(start)
    steps = steps - start
    for index, timestep in enumerate(scheduler.timesteps[start:]):
        t = (timestep / TIME_SCALE).expand(batch)
        if guided:
            v_uncond, v_cond = model(
                torch.cat([latents, latents]),
                torch.cat([t, t]),
                both.tokens,
                both.pooled,
                both.mask,
            ).chunk(2)
            velocity = v_uncond + guidance * (v_cond - v_uncond)
        else:
            velocity = model(latents, t, both.tokens, both.pooled, both.mask)
        latents = scheduler.step(velocity, timestep, latents).prev_sample
        if callback is not None and callback(index + 1, steps, float(t[0]), latents) is False:
            raise SamplingCancelled(f"cancelled after step {index + 1} of {steps}")
    return latents
