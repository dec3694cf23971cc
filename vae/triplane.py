"""Triplane SDF VAE (Direct3D style): a shape as three axis-aligned latent feature planes.

Encoder: surface points (with normals, and colours if ``use_colours``) are embedded per
point and averaged into the cells of three planes (XY, XZ, YZ) at ``plane_resolution``; a
CNN shared by the planes halves their resolution down to ``latent_resolution``, and
attention over the tokens of all three planes lets each plane see the others before a
diagonal Gaussian posterior of C channels.
Decoder: the sampled latent planes go through attention layers, then upsampling convolutions
to ``output_resolution`` feature planes; a query point's features are bilinearly sampled from
each plane and summed, and an MLP predicts its SDF and RGB.

Shapes: points ``(B, N, 3)`` -> latents ``(B, 3, C, R, R)`` (planes XY, XZ, YZ; the DiT
patchifies them) -> decoded planes ``(B, 3, F, S, S)``; queries ``(B, Q, 3)`` -> sdf
``(B, Q)``, rgb ``(B, Q, 3)``.

Sampling is written out (gather + weights) rather than ``F.grid_sample``: the normal and
eikonal losses differentiate the field twice, and grid_sample has no double backward.
"""

from __future__ import annotations

import math

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.attention import BasicTransformerBlock
from torch import nn

from .field import DecodedField, DiagonalGaussian, ShapeAutoencoder
from .vecset import FourierEmbedding

#: coordinate pairs spanning each plane: XY, XZ, YZ
PLANE_AXES = ((0, 1), (0, 2), (1, 2))


def scatter_to_planes(xyz: torch.Tensor, features: torch.Tensor, resolution: int) -> torch.Tensor:
    """Average per-point ``features (B, N, F)`` into the cells of three planes.

    ``xyz`` in [-1, 1] picks each point's cell on every plane; empty cells stay zero.
    Returns ``(B, 3, F, resolution, resolution)``.
    """
    batch, _, channels = features.shape
    cells = ((xyz.detach() + 1) * 0.5 * resolution).long().clamp(0, resolution - 1)
    planes = []
    for a, b in PLANE_AXES:
        index = cells[..., b] * resolution + cells[..., a]  # row = second axis, column = first
        total = features.new_zeros(batch, resolution * resolution, channels)
        total = total.scatter_add(1, index[..., None].expand(-1, -1, channels), features)
        count = features.new_zeros(batch, resolution * resolution, 1)
        count = count.scatter_add(1, index[..., None], torch.ones_like(features[..., :1]))
        mean = total / count.clamp(min=1)
        planes.append(mean.transpose(1, 2).reshape(batch, channels, resolution, resolution))
    return torch.stack(planes, dim=1)


def _bilinear(values: torch.Tensor, u: torch.Tensor, v: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear lookup of ``values (B, S*S, F)`` (row-major S x S) at pixel coordinates
    ``u, v (B, Q)`` in [0, S - 1]; differentiable in u and v to any order."""
    channels = values.shape[-1]
    u0 = u.detach().floor().clamp(max=size - 2)
    v0 = v.detach().floor().clamp(max=size - 2)
    wu, wv = (u - u0)[..., None], (v - v0)[..., None]
    u0, v0 = u0.long(), v0.long()
    result = 0
    for du, dv, weight in (
        (0, 0, (1 - wu) * (1 - wv)),
        (1, 0, wu * (1 - wv)),
        (0, 1, (1 - wu) * wv),
        (1, 1, wu * wv),
    ):
        index = (v0 + dv) * size + (u0 + du)
        corner = torch.gather(values, 1, index[..., None].expand(-1, -1, channels))
        result = result + corner * weight
    return result


def sample_planes(planes: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
    """Bilinear features of query points ``(B, Q, 3)`` summed over ``planes (B, 3, F, S, S)``.

    Pixel centres span [-1, 1] corner to corner (``align_corners=True``); points outside
    clamp to the border. Twice differentiable in ``xyz``. Returns ``(B, Q, F)``.
    """
    size = planes.shape[-1]
    flat = planes.flatten(3).transpose(2, 3)  # (B, 3, S*S, F)
    pixel = ((xyz + 1) * 0.5 * (size - 1)).clamp(0, size - 1)
    total = 0
    for plane, (a, b) in enumerate(PLANE_AXES):
        total = total + _bilinear(flat[:, plane], pixel[..., a], pixel[..., b], size)
    return total


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with a skip connection."""

    def __init__(self, channels: int):
        super().__init__()
        groups = math.gcd(channels, 8)
        self.body = nn.Sequential(
            nn.GroupNorm(groups, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(groups, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PlaneAttention(nn.Module):
    """Self-attention over the tokens of all three planes, with learned positions."""

    def __init__(self, width: int, heads: int, layers: int, resolution: int):
        super().__init__()
        self.position = nn.Parameter(torch.randn(1, 3 * resolution * resolution, width) * 0.02)
        self.blocks = nn.ModuleList(
            [
                BasicTransformerBlock(
                    dim=width,
                    num_attention_heads=heads,
                    attention_head_dim=width // heads,
                    activation_fn="gelu",
                )
                for _ in range(layers)
            ]
        )

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        if len(self.blocks) == 0:
            return planes
        batch, _, width, size, _ = planes.shape
        tokens = planes.permute(0, 1, 3, 4, 2).reshape(batch, 3 * size * size, width)
        tokens = tokens + self.position
        for block in self.blocks:
            tokens = block(tokens)
        return tokens.reshape(batch, 3, size, size, width).permute(0, 1, 4, 2, 3)


def _per_plane(module: nn.Module, planes: torch.Tensor) -> torch.Tensor:
    """Apply a 2D module to each plane of ``(B, 3, C, H, W)`` (the planes share weights)."""
    return module(planes.flatten(0, 1)).unflatten(0, (planes.shape[0], 3))


def _check_power_of_two_multiple(name: str, size: int, latent_resolution: int) -> None:
    ratio = size / latent_resolution
    if latent_resolution < 2 or ratio < 1 or ratio != 2 ** round(math.log2(ratio)):
        raise ValueError(
            f"{name} {size} must be latent_resolution {latent_resolution} times a power of "
            "two (and latent_resolution >= 2)"
        )


class TriplaneVAE(ShapeAutoencoder, ModelMixin, ConfigMixin):
    """Triplane SDF + colour autoencoder; see the module docstring for the architecture."""

    ENCODER_PARTS = ("point_embed", "encoder_conv", "encoder_attention", "to_posterior")

    @register_to_config
    def __init__(
        self,
        plane_resolution: int = 64,
        latent_resolution: int = 16,
        output_resolution: int = 128,
        latent_channels: int = 8,
        width: int = 128,
        feature_channels: int = 32,
        heads: int = 4,
        encoder_layers: int = 1,
        decoder_layers: int = 2,
        fourier_frequencies: int = 6,
        head_width: int = 64,
        use_normals: bool = True,
        use_colours: bool = False,
    ):
        """
        Args:
            plane_resolution: cells per side of the planes the points are averaged into.
            latent_resolution: R, cells per side of the latent planes.
            output_resolution: S, cells per side of the decoded feature planes.
            latent_channels: C, channels per latent cell.
            width: channels of the convolutions and attention.
            feature_channels: F, channels of the decoded planes the query MLP reads.
            heads: attention heads (width must divide by it).
            encoder_layers: attention layers over the three planes' tokens in the encoder.
            decoder_layers: attention layers over the latent tokens in the decoder.
            fourier_frequencies: octaves of the per-point embedding of xyz.
            head_width: hidden width of the query MLP.
            use_normals: feed surface normals to the encoder alongside positions.
            use_colours: feed surface RGB to the encoder too, so latents carry colour.
        """
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        _check_power_of_two_multiple("plane_resolution", plane_resolution, latent_resolution)
        _check_power_of_two_multiple("output_resolution", output_resolution, latent_resolution)
        self.fourier = FourierEmbedding(fourier_frequencies)
        point_dim = self.fourier.out_dim + 3 * use_normals + 3 * use_colours
        self.point_embed = nn.Sequential(
            nn.Linear(point_dim, width), nn.SiLU(), nn.Linear(width, width)
        )
        encoder: list[nn.Module] = [ResBlock(width)]
        for _ in range(int(math.log2(plane_resolution // latent_resolution))):
            encoder += [nn.Conv2d(width, width, 3, stride=2, padding=1), ResBlock(width)]
        self.encoder_conv = nn.Sequential(*encoder)
        self.encoder_attention = PlaneAttention(width, heads, encoder_layers, latent_resolution)
        self.to_posterior = nn.Sequential(
            nn.GroupNorm(math.gcd(width, 8), width),
            nn.SiLU(),
            nn.Conv2d(width, 2 * latent_channels, 1),
        )
        self.from_latent = nn.Conv2d(latent_channels, width, 3, padding=1)
        self.decoder_attention = PlaneAttention(width, heads, decoder_layers, latent_resolution)
        decoder: list[nn.Module] = [ResBlock(width)]
        channels = width
        for _ in range(int(math.log2(output_resolution // latent_resolution))):
            out_channels = max(feature_channels, channels // 2)
            decoder += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(channels, out_channels, 3, padding=1),
                ResBlock(out_channels),
            ]
            channels = out_channels
        decoder += [
            nn.GroupNorm(math.gcd(channels, 8), channels),
            nn.SiLU(),
            nn.Conv2d(channels, feature_channels, 3, padding=1),
        ]
        self.decoder_conv = nn.Sequential(*decoder)
        self.head = nn.Sequential(
            nn.Linear(feature_channels + 3, head_width),
            nn.SiLU(),
            nn.Linear(head_width, head_width),
            nn.SiLU(),
            nn.Linear(head_width, 4),
        )

    def encode(
        self,
        points: torch.Tensor,
        normals: torch.Tensor | None = None,
        colours: torch.Tensor | None = None,
    ) -> DiagonalGaussian:
        """Surface points ``(B, N, 3)`` (+ normals, + RGB colours in [0, 1]) -> posterior over
        ``(B, 3, C, R, R)``. ``colours`` is ignored unless built with ``use_colours``."""
        features = self._encoder_features(points, normals, colours)
        embedded = self.point_embed(features)
        planes = scatter_to_planes(points, embedded, self.config.plane_resolution)
        planes = self.encoder_attention(_per_plane(self.encoder_conv, planes))
        return DiagonalGaussian(_per_plane(self.to_posterior, planes), dim=2)

    def decode(self, latents: torch.Tensor, chunk: int = 65_536) -> DecodedField:
        """Latent planes ``(B, 3, C, R, R)`` -> a field answering ``query(xyz)``."""
        planes = self.decoder_attention(_per_plane(self.from_latent, latents))
        return DecodedField(self._query_head, _per_plane(self.decoder_conv, planes), chunk=chunk)

    def _query_head(
        self, planes: torch.Tensor, xyz: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        xyz = xyz.to(planes.dtype)
        out = self.head(torch.cat([sample_planes(planes, xyz), xyz], dim=-1))
        return out[..., 0], torch.sigmoid(out[..., 1:4])
