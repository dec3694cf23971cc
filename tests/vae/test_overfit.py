"""Acceptance: each VAE overfits one procedural shape to F-score@0.01 >= 0.95 on CPU.

Each case takes about 1-2 minutes on 2 cores (the issue asks for under 2 minutes; measured,
not asserted: timing belongs in benchmarks, and a loaded machine would make an assertion
flaky).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gen3d.data import BuildSpec, SamplingConfig, ShapeDataset, build_dataset
from gen3d.data.procedural import generate_shape
from gen3d.eval import compare_meshes
from gen3d.mesh import extract_hierarchical
from vae.trainer import VAETrainConfig, train_vae

MODELS = {
    "vecset": {
        "num_latents": 64,
        "latent_channels": 16,
        "width": 128,
        "heads": 4,
        "decoder_layers": 2,
        "fourier_frequencies": 6,
    },
    "triplane": {
        "plane_resolution": 64,
        "latent_resolution": 16,
        "output_resolution": 128,
        "latent_channels": 8,
        "width": 64,
        "feature_channels": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
    },
}


@pytest.mark.parametrize("model_type", sorted(MODELS))
def test_vae_overfits_one_shape(tmp_path: Path, model_type: str) -> None:
    torch.manual_seed(0)
    sampling = SamplingConfig(n_surface=8192, n_near=8192, n_volume=4096, grid_resolution=96)
    build_dataset(
        BuildSpec(source="procedural", count=1, categories=("table",), sampling=sampling),
        tmp_path / "ds",
    )
    data = ShapeDataset(tmp_path / "ds", split=None, n_surface=2048, n_near=1024, n_volume=512)
    loader = torch.utils.data.DataLoader(data, batch_size=1)
    config = VAETrainConfig(
        model_type=model_type,
        model=MODELS[model_type],
        steps=600,
        lr=2e-3,
        warmup_steps=60,
        sample_posterior=False,
        encoder_points=2048,
        checkpoint_every=600,
        validate_every=600,
    )
    model = train_vae(config, loader, tmp_path / "run", progress=False)
    with torch.no_grad():
        item = ShapeDataset(tmp_path / "ds", split=None, n_surface=2048, seed=0)[0]
        latents = model.encode(item["surface_points"][None], item["surface_normals"][None])
        field = model.decode(latents.mode())[0]
        predicted = extract_hierarchical(field, 128, band=2.0).mesh
    truth = extract_hierarchical(generate_shape("table", 0), 128).mesh
    result = compare_meshes(predicted, truth, count=50_000, iou=False)
    assert result.f_score[0.01] >= 0.95, result
