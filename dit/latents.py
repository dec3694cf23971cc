"""Latent layouts: how a VAE's latents become DiT tokens and back.

- a set ``(B, M, C)`` (vecset VAE): each latent is a token; no positions, the set is
  unordered;
- triplanes ``(B, 3, C, R, R)`` (triplane VAE): each plane is cut into ``p x p`` patches, a
  token each, ``3 (R/p)^2`` tokens of ``C p^2`` channels, with fixed 2D sine-cosine positions
  plus a learned embedding per plane.

``latent_layout(shape, patch_size)`` picks one from the latent shape (without batch).
"""

from __future__ import annotations

import torch
from torch import nn


def sincos_2d(size: int, width: int) -> torch.Tensor:
    """Fixed 2D sine-cosine positions of a ``size x size`` grid: ``(size * size, width)``."""
    if width % 4:
        raise ValueError(f"2D positional embeddings need a width divisible by 4, not {width}")
    quarter = width // 4
    frequencies = 1.0 / (10_000 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    rows, cols = torch.meshgrid(
        torch.arange(size, dtype=torch.float64),
        torch.arange(size, dtype=torch.float64),
        indexing="ij",
    )
    angles_r = rows.flatten()[:, None] * frequencies
    angles_c = cols.flatten()[:, None] * frequencies
    return torch.cat(
        [angles_r.sin(), angles_r.cos(), angles_c.sin(), angles_c.cos()], dim=1
    ).float()


class SetLayout(nn.Module):
    """Latents ``(B, M, C)`` as M tokens of C channels."""

    def __init__(self, shape: tuple[int, ...], width: int):
        super().__init__()
        self.shape = shape
        self.token_dim = shape[1]
        self.num_tokens = shape[0]

    def to_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        return latents

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens

    def positions(self, tokens: torch.Tensor) -> torch.Tensor | float:
        return 0.0


class TriplaneLayout(nn.Module):
    """Latents ``(B, 3, C, R, R)`` as ``3 (R/p)^2`` patch tokens of ``C p^2`` channels."""

    def __init__(self, shape: tuple[int, ...], width: int, patch_size: int):
        super().__init__()
        planes, channels, rows, cols = shape
        if planes != 3 or rows != cols:
            raise ValueError(f"triplane latents are (3, C, R, R), not {shape}")
        if rows % patch_size:
            raise ValueError(f"patch_size {patch_size} must divide the plane size {rows}")
        self.shape = shape
        self.patch = patch_size
        self.grid = rows // patch_size
        self.token_dim = channels * patch_size**2
        self.num_tokens = 3 * self.grid**2
        self.register_buffer("grid_positions", sincos_2d(self.grid, width), persistent=False)
        self.plane_embedding = nn.Parameter(torch.zeros(3, width))
        nn.init.normal_(self.plane_embedding, std=0.02)

    def to_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        b, planes, c, _, _ = latents.shape
        p, g = self.patch, self.grid
        x = latents.reshape(b, planes, c, g, p, g, p)
        # (B, plane, gy, gx, C, py, px): one token per patch, its pixels as channels
        return x.permute(0, 1, 3, 5, 2, 4, 6).reshape(b, planes * g * g, c * p * p)

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        b = tokens.shape[0]
        _, c, size, _ = self.shape
        p, g = self.patch, self.grid
        x = tokens.reshape(b, 3, g, g, c, p, p)
        return x.permute(0, 1, 4, 2, 5, 3, 6).reshape(b, 3, c, size, size)

    def positions(self, tokens: torch.Tensor) -> torch.Tensor:
        grid = self.grid_positions.to(tokens.dtype)  # (g*g, W)
        per_plane = grid[None] + self.plane_embedding.to(tokens.dtype)[:, None]  # (3, g*g, W)
        return per_plane.reshape(1, -1, per_plane.shape[-1])


def latent_layout(shape: tuple[int, ...], width: int, patch_size: int = 1) -> nn.Module:
    """The layout for latents of ``shape`` (no batch dimension): a set or triplanes."""
    shape = tuple(int(s) for s in shape)
    if any(s < 1 for s in shape):
        raise ValueError(f"latent shape must be positive, not {shape}")
    if len(shape) == 2:
        return SetLayout(shape, width)
    if len(shape) == 4:
        return TriplaneLayout(shape, width, patch_size)
    raise ValueError(
        f"latent_shape must be (M, C) for a latent set or (3, C, R, R) for triplanes, not {shape}"
    )


__all__ = ["SetLayout", "TriplaneLayout", "latent_layout", "sincos_2d"]
