"""Rectified-flow diffusion transformers over shape latents: variant registry, flow-matching
objective, samplers and trainer.

Every variant is a ``diffusers`` ModelMixin registered by name with
``forward(x_t, t, cond_tokens, cond_pooled) -> velocity``.
Depends on torch and diffusers only: never imports gen3d, server, vae or render.
"""

from .base import LatentDiT
from .cross import CrossDiT
from .mmdit import MMDiT
from .registry import DIT_VARIANTS, build_dit, load_dit, register_dit

__all__ = [
    "DIT_VARIANTS",
    "CrossDiT",
    "LatentDiT",
    "MMDiT",
    "build_dit",
    "load_dit",
    "register_dit",
]
