"""``dit-cross``: self-attention over the shape tokens, cross-attention to the condition.

Each block (Hunyuan3D-DiT / TripoSG style): adaLN-zero-modulated self-attention, then
pre-norm cross-attention to the condition tokens (masked where the condition is padding),
then an adaLN-zero-modulated feed-forward layer. Queries and keys are RMS-normalised
(QK-norm), attention is SDPA. With ``long_skip`` the second half of the blocks also takes
the output of its mirror in the first half (U-ViT's long skip connections), concatenated
and projected back to the width.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import register_to_config
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from diffusers.models.normalization import AdaLayerNormZero
from torch import nn

from .base import LatentDiT
from .registry import register_dit


class CrossDiTBlock(nn.Module):
    def __init__(self, width: int, heads: int, skip: bool = False):
        super().__init__()
        head_dim = width // heads
        self.skip = nn.Linear(2 * width, width) if skip else None
        self.norm1 = AdaLayerNormZero(width)
        self.attn = Attention(
            query_dim=width, heads=heads, dim_head=head_dim, qk_norm="rms_norm", bias=True
        )
        self.norm_cross = nn.LayerNorm(width, eps=1e-6)
        self.cross = Attention(
            query_dim=width,
            cross_attention_dim=width,
            heads=heads,
            dim_head=head_dim,
            qk_norm="rms_norm",
            bias=True,
        )
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(width, activation_fn="gelu-approximate")

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        temb: torch.Tensor,
        bias: torch.Tensor | None,
        skip: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.skip is not None:
            x = self.skip(torch.cat([x, skip], dim=-1))
        h, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1(x, emb=temb)
        x = x + gate_msa[:, None] * self.attn(h)
        x = x + self.cross(self.norm_cross(x), encoder_hidden_states=context, attention_mask=bias)
        h = self.norm2(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        return x + gate_mlp[:, None] * self.ff(h)


def attention_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Key mask ``(B, L)`` (True = attend) -> additive bias ``(B, 1, L)`` for diffusers'
    Attention; a row with no real token attends to all (rather than to nothing, a NaN)."""
    if mask is None:
        return None
    mask = mask | ~mask.any(dim=1, keepdim=True)
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill(~mask, torch.finfo(dtype).min)[:, None]


@register_dit("dit-cross")
class CrossDiT(LatentDiT):
    """Self-attention + cross-attention DiT over shape-latent tokens."""

    @register_to_config
    def __init__(
        self,
        latent_shape: tuple[int, ...] = (64, 16),
        width: int = 256,
        depth: int = 8,
        heads: int = 4,
        cond_dim: int = 384,
        pooled_dim: int = 384,
        patch_size: int = 1,
        long_skip: bool = True,
    ):
        """
        Args:
            latent_shape: latents without batch: ``(M, C)`` for a latent set, ``(3, C, R, R)``
                for triplanes.
            width: token width.
            depth: blocks.
            heads: attention heads (width must divide by it).
            cond_dim: channels of the condition tokens (384 for all-MiniLM-L6-v2).
            pooled_dim: channels of the pooled condition embedding.
            patch_size: triplane patch size (ignored for latent sets).
            long_skip: U-ViT long skip connections from the first half to the second.
        """
        super().__init__()
        self._init_io(latent_shape, width, heads, cond_dim, pooled_dim, patch_size)
        half = depth // 2
        self.blocks = nn.ModuleList(
            [
                CrossDiTBlock(width, heads, skip=long_skip and i >= depth - half)
                for i in range(depth)
            ]
        )
        self.zero_init()

    def run_blocks(
        self,
        tokens: torch.Tensor,
        context: torch.Tensor,
        temb: torch.Tensor,
        context_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        bias = attention_bias(context_mask, tokens.dtype)
        depth = len(self.blocks)
        half = depth // 2
        skips = []
        for index, block in enumerate(self.blocks):
            skip = skips.pop() if block.skip is not None else None
            tokens = block(tokens, context, temb, bias, skip)
            if self.config.long_skip and index < half:
                skips.append(tokens)
        return tokens
