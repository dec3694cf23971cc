"""A tiny but real pipeline for tests, benchmarks and examples (seconds to build on a CPU).

A VecSetVAE whose decoder is fitted to a coloured sphere (so any latent decodes to a closed
surface), a zero-initialised ``dit-cross``, the packaged text encoder and a small image
encoder. It exercises every stage, every file format and every code path of the service at
a fraction of a real model's cost; its assets are spheres, not what the prompt says.

Example::

    from gen3d.testing import save_tiny_pipeline
    from gen3d import Pipeline

    pipe = Pipeline.from_pretrained(save_tiny_pipeline("/tmp/tiny"), device="cpu")
    pipe(prompt="a red chair").save("sphere.glb")
"""

from __future__ import annotations

from pathlib import Path

import torch

from dit import build_dit
from gen3d.conditioning import SmallImageEncoder, TextEncoder
from gen3d.pipeline import Pipeline, PipelineConfig
from vae.vecset import VecSetVAE

TINY_LATENT_SHAPE = (8, 4)
TINY_DEFAULTS = {"steps": 4, "resolution": 48, "face_count": 2000, "texture_size": 64}
#: Options of each VAE kind (``vae.build_vae(kind, **options)``) that build and train a
#: step in milliseconds: for tests of the VAE machinery, not of what a VAE learns.
TINY_VAE_OPTIONS: dict[str, dict[str, int]] = {
    "vecset": {"num_latents": 16, "latent_channels": 4, "width": 32, "decoder_layers": 1},
    "triplane": {
        "plane_resolution": 16,
        "latent_resolution": 4,
        "output_resolution": 16,
        "latent_channels": 4,
        "width": 32,
        "feature_channels": 8,
        "decoder_layers": 1,
    },
}


def sphere_vae(steps: int = 300, seed: int = 0) -> VecSetVAE:
    """A tiny VecSetVAE whose decoder maps any latent to a sphere of radius 0.5 coloured by
    position."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    vae = VecSetVAE(
        num_latents=TINY_LATENT_SHAPE[0],
        latent_channels=TINY_LATENT_SHAPE[1],
        width=32,
        heads=2,
        decoder_layers=1,
        fourier_frequencies=2,
    )
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    for _ in range(steps):
        latents = torch.randn(4, *TINY_LATENT_SHAPE, generator=generator)
        xyz = torch.rand(4, 1024, 3, generator=generator) * 2 - 1
        sdf, rgb = vae.decode(latents).query(xyz)
        target_sdf = xyz.norm(dim=-1) - 0.5
        loss = (sdf - target_sdf).abs().mean() + (rgb - (xyz * 0.5 + 0.5)).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return vae


def tiny_pipeline() -> Pipeline:
    text = TextEncoder()
    dit = build_dit(
        "dit-cross",
        latent_shape=TINY_LATENT_SHAPE,
        width=32,
        depth=1,
        heads=2,
        cond_dim=text.token_dim,
        pooled_dim=text.pooled_dim,
    )
    image = SmallImageEncoder(image_size=32, width=text.token_dim)
    config = PipelineConfig(latent_mean=0.0, latent_std=1.0, defaults=dict(TINY_DEFAULTS))
    return Pipeline(sphere_vae(), dit, text, image, config)


def save_tiny_pipeline(folder: str | Path) -> Path:
    """Build the tiny pipeline and save it (``save_pretrained`` layout); returns the folder."""
    return tiny_pipeline().save_pretrained(folder)
