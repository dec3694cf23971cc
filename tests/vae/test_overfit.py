"""Acceptance: each VAE overfits one procedural shape to F-score@0.01 >= 0.95 on CPU.

Measured on 2 cores: vecset ~65 s (F@0.01 0.968); triplane ~70 s (F@0.01 0.980) with 64^2
decoded planes and 900 steps (128^2 planes took 126 s for 750 steps and scored 0.946-0.958,
too close to the bar; runs vary by about 0.01 because CPU reductions are not deterministic).
Timing is measured, not asserted: it belongs in benchmarks, and a loaded machine would make
an assertion flaky.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gen3d.data import BuildSpec, SamplingConfig, ShapeDataset, build_dataset
from gen3d.data.procedural import generate_shape
from gen3d.eval import compare_meshes
from gen3d.mesh import extract_dense, extract_hierarchical
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
        "output_resolution": 64,
        "latent_channels": 8,
        "width": 64,
        "feature_channels": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
    },
}


#: training steps per model (the triplane scored 0.955-0.972 at 600-750 steps, 0.980 at 900)
STEPS = {"vecset": 600, "triplane": 900}
#: the double-backward terms at a subset of points: 1.3x faster vecset steps; the triplane's
#: steps cost its convolutions, so it keeps every point
GRADIENT_POINTS = {"vecset": 512, "triplane": 0}


# Minutes on 2 cores (each 65-70 s on a fast machine, 2-3x that on a slow one): the VAE
# issue's acceptance, run on purpose with `scripts/test -m slow tests/vae/test_overfit.py`.
@pytest.mark.slow
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
        loss={"gradient_points": GRADIENT_POINTS[model_type]},
        steps=STEPS[model_type],
        lr=2e-3,
        warmup_steps=60,
        sample_posterior=False,
        encoder_points=2048,
        checkpoint_every=STEPS[model_type],
        validate_every=STEPS[model_type],
    )
    model = train_vae(config, loader, tmp_path / "run", progress=False)
    with torch.no_grad():
        item = ShapeDataset(tmp_path / "ds", split=None, n_surface=2048, seed=0)[0]
        latents = model.encode(item["surface_points"][None], item["surface_normals"][None])
        field = model.decode(latents.mode())[0]
        # Dense: the hierarchical search's band test assumes a distance field, which a
        # learned field only approximates.
        predicted = extract_dense(field, 128).mesh
    truth = extract_hierarchical(generate_shape("table", 0), 128).mesh
    result = compare_meshes(predicted, truth, count=50_000, iou=False)
    print(f"{model_type}: {result}")
    assert result.f_score[0.01] >= 0.95, result
