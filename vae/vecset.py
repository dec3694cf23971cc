"""Vecset SDF VAE (3DShape2VecSet / TripoSG style): a shape as a set of latent tokens.

Encoder: surface points (with normals, and colours if ``use_colours``) are
Fourier-embedded; M of them, chosen by farthest point sampling (or M learned queries),
cross-attend to all points and become M tokens of a diagonal Gaussian posterior with C
channels. Decoder: the sampled latents go through self-attention layers; a query point,
Fourier-embedded, cross-attends to the tokens and an MLP head predicts its SDF and RGB.

Shapes: points, normals and colours ``(B, N, 3)``, latents ``(B, M, C)``, decoded tokens
``(B, M, width)``, queries ``(B, Q, 3)`` -> sdf ``(B, Q)``, rgb ``(B, Q, 3)``.
"""

from __future__ import annotations

import math

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.attention import BasicTransformerBlock
from torch import nn

from .field import DecodedField, DiagonalGaussian, ShapeAutoencoder

QUERY_MODES = ("fps", "learned")
# Query points per pass of the query head. On CPU a chunk whose attention and MLP activations
# stay in cache is faster per point: 8192 extracted the default model's chair 1.15x faster
# than 32768 on 2 cores (scripts/bench_mesh.py). GPUs want large batches instead.
CPU_QUERY_CHUNK = 8_192
ACCELERATOR_QUERY_CHUNK = 65_536


class FourierEmbedding(nn.Module):
    """xyz -> [xyz, sin(2^k pi xyz), cos(2^k pi xyz)] for k < frequencies: (..., 3 + 6F)."""

    def __init__(self, frequencies: int):
        super().__init__()
        self.register_buffer(
            "scales", (2.0 ** torch.arange(frequencies)) * math.pi, persistent=False
        )
        self.out_dim = 3 + 6 * frequencies

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        angles = (xyz[..., None] * self.scales).flatten(-2)
        return torch.cat([xyz, angles.sin(), angles.cos()], dim=-1)


def farthest_point_sample(points: torch.Tensor, count: int) -> torch.Tensor:
    """Indices ``(B, count)`` of points spread evenly over each cloud ``(B, N, 3)``.

    Starts from each cloud's first point, so the choice is deterministic for given points.
    """
    batch, n, _ = points.shape
    if count > n:
        raise ValueError(f"cannot choose {count} points from {n}")
    chosen = torch.zeros(batch, count, dtype=torch.long, device=points.device)
    distance = torch.full((batch, n), float("inf"), device=points.device, dtype=points.dtype)
    current = torch.zeros(batch, dtype=torch.long, device=points.device)
    rows = torch.arange(batch, device=points.device)
    for i in range(count):
        chosen[:, i] = current
        new = (points - points[rows, current][:, None]).pow(2).sum(-1)
        distance = torch.minimum(distance, new)
        current = distance.argmax(dim=1)
    return chosen


def _block(width: int, heads: int, cross: bool) -> BasicTransformerBlock:
    """A pre-norm transformer block (diffusers'): self-attention, or cross-attention to a
    context when ``cross``, then a feed-forward layer; SDPA attention."""
    return BasicTransformerBlock(
        dim=width,
        num_attention_heads=heads,
        attention_head_dim=width // heads,
        cross_attention_dim=width if cross else None,
        only_cross_attention=cross,
        activation_fn="gelu",
    )


class VecSetVAE(ShapeAutoencoder, ModelMixin, ConfigMixin):
    """Vecset SDF + colour autoencoder; see the module docstring for the architecture."""

    ENCODER_PARTS = ("point_embed", "learned_queries", "encoder", "encoder_norm", "to_posterior")

    @register_to_config
    def __init__(
        self,
        num_latents: int = 256,
        latent_channels: int = 32,
        width: int = 256,
        heads: int = 4,
        encoder_layers: int = 1,
        decoder_layers: int = 6,
        fourier_frequencies: int = 8,
        query_mode: str = "fps",
        use_normals: bool = True,
        use_colours: bool = False,
    ):
        """
        Args:
            num_latents: M, latent tokens per shape.
            latent_channels: C, channels per latent token.
            width: transformer width.
            heads: attention heads (width must divide by it).
            encoder_layers: cross-attention layers from points into the M tokens.
            decoder_layers: self-attention layers over the tokens after the bottleneck.
            fourier_frequencies: octaves of the Fourier embedding of xyz.
            query_mode: "fps" (farthest point samples of the input) or "learned" queries.
            use_normals: feed surface normals to the encoder alongside positions.
            use_colours: feed surface RGB to the encoder too, so latents carry colour
                (without it the decoder can only paint a shape's typical colour).
        """
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        if query_mode not in QUERY_MODES:
            raise ValueError(f"query_mode must be one of {QUERY_MODES}, not {query_mode!r}")
        self.fourier = FourierEmbedding(fourier_frequencies)
        point_dim = self.fourier.out_dim + 3 * use_normals + 3 * use_colours
        self.point_embed = nn.Linear(point_dim, width)
        self.query_embed = nn.Linear(self.fourier.out_dim, width)
        if query_mode == "learned":
            self.learned_queries = nn.Parameter(torch.randn(num_latents, width) * 0.02)
        self.encoder = nn.ModuleList(
            [_block(width, heads, cross=True) for _ in range(encoder_layers)]
        )
        self.encoder_norm = nn.LayerNorm(width)
        self.to_posterior = nn.Linear(width, 2 * latent_channels)
        self.from_latent = nn.Linear(latent_channels, width)
        self.decoder = nn.ModuleList(
            [_block(width, heads, cross=False) for _ in range(decoder_layers)]
        )
        self.query_block = _block(width, heads, cross=True)
        self.head = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, 4)
        )

    def encode(
        self,
        points: torch.Tensor,
        normals: torch.Tensor | None = None,
        colours: torch.Tensor | None = None,
    ) -> DiagonalGaussian:
        """Surface points ``(B, N, 3)`` (+ normals, + RGB colours in [0, 1]) -> posterior over
        latents ``(B, M, C)``. ``colours`` is ignored unless built with ``use_colours``."""
        features = self._encoder_features(points, normals, colours)
        context = self.point_embed(features)
        if self.config.query_mode == "fps":
            index = farthest_point_sample(points.detach(), self.config.num_latents)
            tokens = torch.gather(context, 1, index[..., None].expand(-1, -1, context.shape[-1]))
        else:
            tokens = self.learned_queries.expand(points.shape[0], -1, -1).to(context.dtype)
        for block in self.encoder:
            tokens = block(tokens, encoder_hidden_states=context)
        return DiagonalGaussian(self.to_posterior(self.encoder_norm(tokens)))

    def decode(self, latents: torch.Tensor, chunk: int | None = None) -> DecodedField:
        """Latents ``(B, M, C)`` -> a field answering ``query(xyz)`` with SDF and RGB.

        ``chunk`` is how many points one numpy query sends through the query head at a time;
        by default ``CPU_QUERY_CHUNK`` on CPU and ``ACCELERATOR_QUERY_CHUNK`` elsewhere.
        """
        tokens = self.from_latent(latents)
        for block in self.decoder:
            tokens = block(tokens)
        if chunk is None:
            cpu = tokens.device.type == "cpu"
            chunk = CPU_QUERY_CHUNK if cpu else ACCELERATOR_QUERY_CHUNK
        return DecodedField(self._query_head, tokens, chunk=chunk)

    def _query_head(
        self, tokens: torch.Tensor, xyz: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        queries = self.query_embed(self.fourier(xyz.to(tokens.dtype)))
        out = self.head(self.query_block(queries, encoder_hidden_states=tokens))
        return out[..., 0], torch.sigmoid(out[..., 1:4])
