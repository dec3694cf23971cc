"""A tiny but real pipeline: a VecSetVAE whose decoder is fitted to a coloured sphere (so any
latent decodes to a surface), a zero-initialised dit-cross, the packaged text encoder and a
small image encoder. Built once per session and saved, as users' pipelines are."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dit import build_dit
from gen3d.conditioning import SmallImageEncoder, TextEncoder
from gen3d.pipeline import Pipeline, PipelineConfig
from vae.vecset import VecSetVAE

LATENT_SHAPE = (8, 4)


def sphere_vae(steps: int = 300) -> VecSetVAE:
    torch.manual_seed(0)
    vae = VecSetVAE(
        num_latents=LATENT_SHAPE[0],
        latent_channels=LATENT_SHAPE[1],
        width=32,
        heads=2,
        decoder_layers=1,
        fourier_frequencies=2,
    )
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    for _ in range(steps):
        latents = torch.randn(4, *LATENT_SHAPE)
        xyz = torch.rand(4, 1024, 3) * 2 - 1
        sdf, rgb = vae.decode(latents).query(xyz)
        target_sdf = xyz.norm(dim=-1) - 0.5
        loss = (sdf - target_sdf).abs().mean() + (rgb - (xyz * 0.5 + 0.5)).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return vae


@pytest.fixture(scope="session")
def tiny_pipeline_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = TextEncoder()
    dit = build_dit(
        "dit-cross",
        latent_shape=LATENT_SHAPE,
        width=32,
        depth=1,
        heads=2,
        cond_dim=text.token_dim,
        pooled_dim=text.pooled_dim,
    )
    image = SmallImageEncoder(image_size=32, width=text.token_dim)
    config = PipelineConfig(
        latent_mean=0.0,
        latent_std=1.0,
        defaults={"steps": 4, "resolution": 48, "face_count": 2000, "texture_size": 64},
    )
    pipeline = Pipeline(sphere_vae(), dit, text, image, config)
    return pipeline.save_pretrained(tmp_path_factory.mktemp("pipeline") / "tiny")


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_pipeline_path: Path) -> Pipeline:
    return Pipeline.from_pretrained(tiny_pipeline_path, device="cpu")
