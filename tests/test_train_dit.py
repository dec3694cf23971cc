"""Latent caching and ``gen3d train-dit`` end to end, on a tiny dataset and tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from gen3d.cli import app
from gen3d.conditioning import TextEncoder
from gen3d.data import BuildSpec, SamplingConfig, build_dataset
from gen3d.data.latents import LatentDataset, cache_latents
from vae import VecSetVAE


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dit")
    sampling = SamplingConfig(n_surface=300, n_near=100, n_volume=100, grid_resolution=40)
    build_dataset(BuildSpec(source="procedural", count=6, sampling=sampling), root / "data")
    torch.manual_seed(0)
    vae = VecSetVAE(num_latents=8, latent_channels=4, width=32, heads=4, decoder_layers=1)
    vae.save_pretrained(root / "vae")
    return root / "data", root / "vae"


def test_cache_holds_latents_captions_and_statistics(prepared, tmp_path: Path) -> None:
    data, vae_path = prepared
    vae = VecSetVAE.from_pretrained(vae_path)
    cache = cache_latents(
        vae, TextEncoder(), data, tmp_path / "cache", encoder_points=128, progress=False
    )
    everything = LatentDataset(cache, split=None, seed=0)
    assert len(everything) == 6 and everything.latents.shape == (6, 8, 4)
    assert abs(float(everything.latents.mean())) < 1e-4  # scaled to zero mean, unit std
    assert abs(float(everything.latents.std()) - 1) < 1e-3
    item = everything[0]
    assert item["cond_tokens"].shape == (32, 384) and item["cond_pooled"].shape == (384,)
    assert item["cond_mask"].dtype == torch.bool and item["cond_mask"][0]
    assert torch.equal(everything[0]["cond_pooled"], everything[0]["cond_pooled"])  # seeded
    # unscale inverts scale, and the cached latents are the VAE's posterior means
    assert torch.allclose(everything.unscale(everything.scale(torch.ones(2))), torch.ones(2))
    splits = {e["split"] for e in everything.meta["entries"]}
    assert sum(len(LatentDataset(cache, split=s)) for s in splits) == 6
    assert len(everything.unconditional()) == 1


def test_train_dit_command_caches_trains_samples_and_resumes(prepared, tmp_path: Path) -> None:
    data, vae_path = prepared
    config = tmp_path / "dit.json"
    config.write_text(
        json.dumps(
            {
                "model": {"width": 32, "depth": 2, "heads": 4},
                "steps": 2,
                "warmup_steps": 1,
                "checkpoint_every": 2,
                "validate_every": 2,
            }
        )
    )
    args = ["train-dit", "--config", str(config), "--vae", str(vae_path), "--data", str(data)]
    args += ["--out", str(tmp_path / "run"), "--batch-size", "2", "--samples", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert (run / "latents" / "cache.json").is_file() and (run / "model" / "config.json").is_file()
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 2 and 0 <= record["val_meshed"] <= 1
    saved = json.loads((run / "model" / "config.json").read_text())
    assert saved["latent_shape"] == [8, 4] and saved["cond_dim"] == 384
    # ... and a generation pipeline folder that `gen3d generate --model` loads
    pipeline = json.loads((run / "pipeline" / "pipeline.json").read_text())
    cache = json.loads((run / "latents" / "cache.json").read_text())
    assert pipeline["latent_std"] == cache["latent_std"] and pipeline["text_encoder"] == "default"

    # a longer run resumes, and reuses the cache instead of encoding again
    config.write_text(config.read_text().replace('"steps": 2', '"steps": 3'))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "caching latents" not in result.output
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 3


def test_train_dit_command_names_bad_inputs(prepared, tmp_path: Path) -> None:
    data, _ = prepared
    config = tmp_path / "dit.json"
    config.write_text(json.dumps({"variant": "unet"}))
    args = ["train-dit", "--config", str(config), "--vae", str(tmp_path), "--data", str(data)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "unknown DiT variant" in str(result.exception)
    config.write_text("{}")
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "not a saved VAE" in str(result.exception)
