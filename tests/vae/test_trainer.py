"""The VAE trainer: runs on a built dataset, checkpoints, resumes, validates, saves."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from gen3d.data import BuildSpec, SamplingConfig, ShapeDataset, build_dataset
from gen3d.testing import TINY_VAE_OPTIONS
from vae.trainer import VAETrainConfig, train_vae
from vae.vecset import VecSetVAE

TINY_MODEL = {
    "num_latents": 16,
    "latent_channels": 4,
    "width": 32,
    "heads": 2,
    "decoder_layers": 1,
    "fourier_frequencies": 4,
}


@pytest.fixture(scope="module")
def loader(tmp_path_factory) -> torch.utils.data.DataLoader:
    root = tmp_path_factory.mktemp("data") / "ds"
    sampling = SamplingConfig(n_surface=400, n_near=300, n_volume=200, grid_resolution=40)
    build_dataset(
        BuildSpec(source="procedural", count=4, sampling=sampling, categories=("mug", "table")),
        root,
    )
    data = ShapeDataset(root, split=None, n_surface=256, n_near=128, n_volume=64, seed=0)
    return torch.utils.data.DataLoader(data, batch_size=2, shuffle=True)


def config(**overrides) -> VAETrainConfig:
    values = dict(
        model=TINY_MODEL,
        steps=6,
        warmup_steps=1,
        checkpoint_every=3,
        validate_every=3,
        encoder_points=128,
    )
    values.update(overrides)
    return VAETrainConfig(**values)


def test_train_checkpoints_validates_and_resumes(tmp_path: Path, loader) -> None:
    calls = []

    def validate(model: VecSetVAE, step: int) -> dict[str, float]:
        assert not model.training
        calls.append(step)
        return {"val_metric": float(step)}

    model = train_vae(config(), loader, tmp_path, validate=validate, progress=False)
    assert isinstance(model, VecSetVAE) and calls == [3, 6]
    state = json.loads((tmp_path / "checkpoints" / "last" / "trainer_state.json").read_text())
    assert state["step"] == 6 and state["config"]["model"] == TINY_MODEL
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6]
    assert all(r["total"] > 0 and r["val_metric"] == r["step"] for r in records)
    saved = VecSetVAE.from_pretrained(tmp_path / "model")
    assert saved.config.width == 32

    # Resume: a longer run continues from step 6, not from scratch.
    train_vae(config(steps=9), loader, tmp_path, validate=validate, progress=False)
    assert calls == [3, 6, 9]
    state = json.loads((tmp_path / "checkpoints" / "last" / "trainer_state.json").read_text())
    assert state["step"] == 9


def test_training_lowers_the_loss(tmp_path: Path, loader) -> None:
    train_vae(
        config(steps=40, validate_every=10, checkpoint_every=40, lr=3e-3, sample_posterior=False),
        loader,
        tmp_path,
        progress=False,
    )
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["sdf"] < records[0]["sdf"]


def test_config_files_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "vae.yaml"
    path.write_text("steps: 10\nmodel:\n  width: 64\nloss:\n  kl: 0.001\n")
    loaded = VAETrainConfig.from_file(path)
    assert loaded.steps == 10 and loaded.model == {"width": 64} and loaded.loss == {"kl": 0.001}
    with pytest.raises(ValueError, match="unknown config keys"):
        VAETrainConfig.from_dict({"step": 10})
    with pytest.raises(ValueError, match="unknown loss weights"):
        VAETrainConfig(loss={"klx": 1.0})
    with pytest.raises(ValueError, match="unknown model options"):
        VAETrainConfig(model={"widht": 64})
    with pytest.raises(ValueError, match="steps"):
        VAETrainConfig(steps=0)


def test_cli_trains_from_a_config_and_validates(tmp_path: Path, loader) -> None:
    from typer.testing import CliRunner

    from gen3d.cli import app

    config_path = tmp_path / "tiny.json"
    config_path.write_text(
        json.dumps(
            {
                "model": TINY_MODEL,
                "steps": 3,
                "warmup_steps": 1,
                "validate_every": 3,
                "checkpoint_every": 3,
                "encoder_points": 128,
            }
        )
    )
    data_root = Path(loader.dataset.root)
    tiny_run = ["train-vae", "--config", str(config_path), "--data", str(data_root)]
    result = CliRunner().invoke(
        app,
        [
            *tiny_run,
            "--out",
            str(tmp_path / "run"),
            "--batch-size",
            "2",
            "--surface",
            "256",
            "--near",
            "128",
            "--volume",
            "64",
            "--workers",
            "0",
            "--val-shapes",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0.0 <= record["val_f_0.02"] <= 1.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stepz": 3}))
    result = CliRunner().invoke(
        app,
        ["train-vae", "--config", str(bad), "--data", str(data_root), "--out", str(tmp_path / "x")],
    )
    assert result.exit_code != 0 and "unknown config keys" in str(result.exception)
    result = CliRunner().invoke(
        app, [*tiny_run, "--out", str(tmp_path / "y"), "--init-from", str(tmp_path)]
    )
    assert result.exit_code != 0 and "is not a saved VAE" in str(result.exception)


def test_trainer_trains_a_triplane_vae_from_the_same_loop(tmp_path: Path, loader) -> None:
    from vae import TriplaneVAE, load_vae

    model = train_vae(
        config(model_type="triplane", model=TINY_VAE_OPTIONS["triplane"], steps=3),
        loader,
        tmp_path,
        progress=False,
    )
    assert isinstance(model, TriplaneVAE)
    assert isinstance(load_vae(tmp_path / "model"), TriplaneVAE)
    with pytest.raises(ValueError, match="unknown model options"):
        VAETrainConfig(model_type="triplane", model={"num_latents": 8})
    with pytest.raises(ValueError, match="unknown VAE type"):
        VAETrainConfig(model_type="octree")


CONFIGS = Path(__file__).resolve().parents[2] / "scripts" / "configs"


@pytest.mark.parametrize(
    "name", sorted(p.name for p in [*CONFIGS.glob("vae-*.yaml"), *CONFIGS.glob("triplane-*.yaml")])
)
def test_shipped_configs_are_valid(name: str) -> None:
    config = VAETrainConfig.from_file(CONFIGS / name)
    assert config.model["width"] >= 64
    # A frozen encoder must have a trained one to keep: such configs run with --init-from.
    assert not config.freeze_encoder or "--init-from" in (CONFIGS / name).read_text()


def test_validator_scores_an_exact_field_near_one_and_a_wrong_one_near_zero(loader) -> None:
    from gen3d.cli.train_vae import reconstruction_validator
    from gen3d.data.procedural import generate_shape

    root = Path(loader.dataset.root)
    entries = ShapeDataset(root, split="val").entries or ShapeDataset(root, split="test").entries
    truth = generate_shape(entries[0]["category"], entries[0]["seed"], margin=0.1)

    class Oracle(torch.nn.Module):
        """Decodes every input to a fixed procedural shape's exact field."""

        def __init__(self, shape) -> None:
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))
            self.shape = shape

        def encode(self, points, normals, colours=None):
            return type("Posterior", (), {"mode": lambda _: points})()

        def decode(self, latents):
            return [self.shape]

    validate = reconstruction_validator(root, shapes=1, resolution=48)
    right = validate(Oracle(truth), 0)
    assert right["val_f_0.02"] > 0.95 and right["val_f_0.01"] > 0.8, right
    wrong = validate(Oracle(generate_shape("rocket", 999)), 0)
    assert wrong["val_f_0.02"] < 0.5, wrong


@pytest.mark.parametrize("kind", ["vecset", "triplane"])
def test_a_frozen_encoder_keeps_every_latent_and_trains_the_decoder(
    tmp_path: Path, loader, kind: str
) -> None:
    from vae import load_vae
    from vae.registry import build_vae

    torch.manual_seed(0)
    options = {**TINY_VAE_OPTIONS[kind], "use_colours": True}
    base = build_vae(kind, **options)
    base.save_pretrained(tmp_path / "base")
    run = config(model_type=kind, model=options, steps=3, init_from=str(tmp_path / "base"), lr=1e-2)
    train_vae(
        dataclasses.replace(run, freeze_encoder=True), loader, tmp_path / "run", progress=False
    )
    tuned = load_vae(tmp_path / "run" / "model")
    batch = next(iter(loader))
    inputs = (batch["surface_points"], batch["surface_normals"], batch["surface_colours"])
    with torch.no_grad():
        before, after = base.encode(*inputs), tuned.encode(*inputs)
    assert torch.equal(before.mean, after.mean) and torch.equal(before.logvar, after.logvar)
    decoder_changed = [
        name
        for (name, before), after in zip(base.named_parameters(), tuned.parameters(), strict=True)
        if not torch.equal(before, after)
    ]
    assert decoder_changed
    assert not {name.split(".")[0] for name in decoder_changed} & set(base.ENCODER_PARTS)


def test_freezing_the_encoder_needs_a_trained_one() -> None:
    from vae.trainer import prepare_training

    with pytest.raises(ValueError, match="init_from"):
        prepare_training(config(freeze_encoder=True))


def test_latent_noise_displaces_the_decoded_latents_by_its_share_of_their_spread() -> None:
    from vae.registry import build_vae

    torch.manual_seed(0)
    model = build_vae("vecset", **TINY_VAE_OPTIONS["vecset"]).eval()
    normals = torch.nn.functional.normalize(torch.randn(4, 256, 3), dim=-1)
    points = 0.5 * normals
    with torch.no_grad():
        clean = model(points, normals, sample_posterior=False)["latents"]
        noisy = model(points, normals, sample_posterior=False, latent_noise=0.1)["latents"]
    shift = (noisy - clean).std() / clean.std()
    assert 0.08 < shift < 0.12  # 0.1 of the latents' standard deviation
    with pytest.raises(ValueError, match="latent_noise"):
        VAETrainConfig(latent_noise=2.0)


@pytest.mark.parametrize("kind", ["vecset", "triplane"])
def test_bf16_mixed_precision_trains_as_on_a_gpu(
    tmp_path: Path, loader, kind: str, fresh_accelerate_state
) -> None:
    # "auto" is bf16 on CUDA. accelerate converts a bf16 model's outputs to fp32, and took
    # the decoded field (it has a dtype) for a tensor: the first step crashed. Through CPU
    # autocast here, the same flow.
    from gen3d.cli.train_vae import reconstruction_validator

    options = TINY_VAE_OPTIONS[kind]
    run = config(model_type=kind, model=options, steps=3, mixed_precision="bf16")
    validate = reconstruction_validator(Path(loader.dataset.root), shapes=1, resolution=32)
    train_vae(run, loader, tmp_path / "run", validate=validate, progress=False)
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert metrics[-1]["step"] == 3 and all(math.isfinite(m["total"]) for m in metrics)
    assert 0.0 <= metrics[-1]["val_f_0.02"] <= 1.0  # validation meshes decoded fields too
    assert (tmp_path / "run" / "model").is_dir()
