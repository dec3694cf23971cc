"""``mmdit``: SD3-style joint attention over shape and condition tokens.

Each block is diffusers' ``JointTransformerBlock`` (SD3's MMDiT block): the shape and
condition streams have their own adaLN-zero modulation, projections and feed-forward
layers, and attend jointly over the concatenation of both; QK-norm (RMS). The last block
updates only the shape stream. Joint attention takes no mask, so padded condition tokens
are zeroed before projection (``LatentDiT.forward``), as SD3 leaves T5 padding in.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import register_to_config
from diffusers.models.attention import JointTransformerBlock
from torch import nn

from .base import LatentDiT
from .registry import register_dit


@register_dit("mmdit")
class MMDiT(LatentDiT):
    """Joint-attention (MMDiT) transformer over shape-latent and condition tokens."""

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
    ):
        """
        Args:
            latent_shape: latents without batch: ``(M, C)`` for a latent set, ``(3, C, R, R)``
                for triplanes.
            width: token width (both streams).
            depth: joint blocks.
            heads: attention heads (width must divide by it).
            cond_dim: channels of the condition tokens (384 for all-MiniLM-L6-v2).
            pooled_dim: channels of the pooled condition embedding.
            patch_size: triplane patch size (ignored for latent sets).
        """
        super().__init__()
        self._init_io(latent_shape, width, heads, cond_dim, pooled_dim, patch_size)
        self.blocks = nn.ModuleList(
            [
                JointTransformerBlock(
                    dim=width,
                    num_attention_heads=heads,
                    attention_head_dim=width // heads,
                    context_pre_only=i == depth - 1,
                    qk_norm="rms_norm",
                )
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
        for block in self.blocks:
            context, tokens = block(tokens, context, temb)
        return tokens
