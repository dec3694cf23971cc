"""``LatentDiT``: what every DiT variant shares; variants supply only their blocks.

``forward(x_t, t, cond_tokens, cond_pooled, cond_mask=None) -> velocity`` (the shape of
``x_t``):

- ``x_t``: noisy latents ``(B, M, C)`` or ``(B, 3, C, R, R)`` (see ``dit.latents``);
- ``t``: flow time in [0, 1] ``(B,)`` or a scalar (0 = data, 1 = noise);
- ``cond_tokens``: condition token embeddings ``(B, L, D)``; ``cond_mask`` ``(B, L)`` bool,
  True where a token is real (padding is False);
- ``cond_pooled``: one pooled condition embedding ``(B, P)``.

The timestep (sinusoidal, diffusers' ``Timesteps``) and the pooled condition are summed into
one vector ``temb (B, W)`` that drives adaLN modulation in every block. Condition tokens are
projected to the model width. The output layer is adaLN-modulated and zero-initialised, and
each block's adaLN gates start at zero (adaLN-zero, DiT): an untrained model predicts zero
velocity and every block starts as the identity.
"""

from __future__ import annotations

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.normalization import AdaLayerNormContinuous
from torch import nn

from .latents import latent_layout

#: flow time in [0, 1] is scaled to this range for the sinusoidal embedding (as SD3 does)
TIME_SCALE = 1000.0


class LatentDiT(ModelMixin, ConfigMixin):
    """Base of the DiT variants (not registered itself). A subclass's ``__init__`` calls
    ``self._init_io(...)`` and builds ``self.blocks``; it implements ``run_blocks``."""

    def _init_io(
        self,
        latent_shape: tuple[int, ...],
        width: int,
        heads: int,
        cond_dim: int,
        pooled_dim: int,
        patch_size: int,
    ) -> None:
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        if cond_dim < 1 or pooled_dim < 1:
            raise ValueError("cond_dim and pooled_dim must be positive")
        self.layout = latent_layout(tuple(latent_shape), width, patch_size)
        self.embed_latents = nn.Linear(self.layout.token_dim, width)
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(256, width)
        self.pooled_embed = nn.Sequential(
            nn.Linear(pooled_dim, width), nn.SiLU(), nn.Linear(width, width)
        )
        self.cond_embed = nn.Linear(cond_dim, width)
        self.norm_out = AdaLayerNormContinuous(width, width, elementwise_affine=False, eps=1e-6)
        self.proj_out = nn.Linear(width, self.layout.token_dim)

    def zero_init(self) -> None:
        """adaLN-zero: zero every modulation layer's output and the output projection.

        Call at the end of a subclass's ``__init__``; it zeroes the ``linear`` of every
        adaLN module (diffusers' AdaLayerNormZero / AdaLayerNormContinuous)."""
        for module in self.modules():
            if module.__class__.__name__.startswith("AdaLayerNorm") and hasattr(module, "linear"):
                nn.init.zeros_(module.linear.weight)
                if module.linear.bias is not None:
                    nn.init.zeros_(module.linear.bias)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def run_blocks(
        self,
        tokens: torch.Tensor,
        context: torch.Tensor,
        temb: torch.Tensor,
        context_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Shape tokens ``(B, N, W)``, condition tokens ``(B, L, W)``, ``temb (B, W)`` ->
        shape tokens ``(B, N, W)``."""
        raise NotImplementedError

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor | float,
        cond_tokens: torch.Tensor,
        cond_pooled: torch.Tensor,
        cond_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        expected = tuple(self.layout.shape)
        if tuple(x_t.shape[1:]) != expected:
            raise ValueError(f"latents must be (B, {expected}), not {tuple(x_t.shape)}")
        batch = x_t.shape[0]
        t = torch.as_tensor(t, device=x_t.device, dtype=torch.float32)
        t = t.expand(batch) if t.ndim == 0 else t
        dtype = self.embed_latents.weight.dtype
        tokens = self.embed_latents(self.layout.to_tokens(x_t).to(dtype))
        tokens = tokens + self.layout.positions(tokens)
        temb = self.time_embed(self.time_proj(t * TIME_SCALE).to(dtype))
        temb = temb + self.pooled_embed(cond_pooled.to(dtype))
        if cond_mask is not None:
            cond_mask = cond_mask.bool()
            cond_tokens = cond_tokens * cond_mask[..., None].to(cond_tokens.dtype)
        context = self.cond_embed(cond_tokens.to(dtype))
        tokens = self.run_blocks(tokens, context, temb, cond_mask)
        out = self.proj_out(self.norm_out(tokens, temb))
        return self.layout.from_tokens(out).to(x_t.dtype)
