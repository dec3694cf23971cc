"""Latent caching and ``gen3d train-dit`` end to end, on a tiny dataset and tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from dit.trainer import DiTTrainConfig
from gen3d.cli import app
from gen3d.conditioning import TextEncoder
from gen3d.data import BuildSpec, SamplingConfig, build_dataset
from gen3d.data.latents import LatentDataset, cache_latents
from vae import VecSetVAE

pytestmark = pytest.mark.cost(30)  # seconds in the default run: scheduled early


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
    # with the training captions, to tell which prompts it knows
    from gen3d.vocabulary import KnownPrompts

    known = KnownPrompts.load(run / "pipeline" / "conditioning")
    train_captions = {
        caption
        for entry in cache["entries"]
        if entry["split"] == "train"
        for caption in entry["captions"]
    }
    assert known is not None and set(known.captions) == train_captions

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
    result = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "run"), "--init-from", str(tmp_path)]
    )
    assert result.exit_code != 0 and "is not a pipeline folder" in str(result.exception)
    # A malformed pipeline.json in --init-from stops the run before it caches or trains,
    # not after an hour of training when the pipeline is assembled.
    source = tmp_path / "source"
    (source / "dit").mkdir(parents=True)
    (source / "dit" / "config.json").write_text("{}")
    (source / "pipeline.json").write_text("{not json")
    vae_path = prepared[1]
    args[args.index(str(tmp_path))] = str(vae_path)
    result = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "run"), "--init-from", str(source)]
    )
    assert result.exit_code != 0 and "not a valid pipeline config" in str(result.exception)
    assert not (tmp_path / "run" / "latents").exists()


def test_train_dit_with_images_trains_the_image_encoder_too(prepared, tmp_path: Path) -> None:
    from PIL import Image

    from gen3d.conditioning import SmallImageEncoder
    from gen3d.data.renders import load_renders
    from gen3d.pipeline import Pipeline
    from gen3d.view_net import ViewNet

    data, vae_path = prepared
    config = tmp_path / "dit.json"
    options = {"model": {"width": 32, "depth": 1, "heads": 4}, "steps": 3, "warmup_steps": 1}
    config.write_text(json.dumps(options | {"image_fraction": 1.0, "checkpoint_every": 3}))
    run = tmp_path / "run"
    args = ["train-dit", "--config", str(config), "--vae", str(vae_path), "--data", str(data)]
    args += ["--out", str(run), "--batch-size", "2", "--samples", "0", "--image-size", "16"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    cache = LatentDataset(run / "latents", split=None)
    renders = load_renders(run / "renders-16", cache.ids)
    assert renders.shape == (6, 1, 3, 16, 16) and renders.dtype == torch.uint8
    assert renders.float().std() > 5  # shapes on white, not blank images
    torch.manual_seed(0)
    untrained = SmallImageEncoder(image_size=16, width=384)
    trained = SmallImageEncoder.from_pretrained(run / "image_encoder")
    assert not torch.equal(trained.net[0].weight, untrained.net[0].weight)

    pipe = Pipeline.from_pretrained(run / "pipeline", device="cpu")
    assert pipe.image_encoder is not None and pipe.text_encoder is not None
    image = Image.new("RGB", (64, 64), "white")
    image.paste((200, 30, 30), (16, 16, 48, 48))
    asset = pipe(image=image, seed=0, steps=2, resolution=32, texture_size=0)
    assert asset.metadata["seed"] == 0

    # A warm start from that pipeline starts both the DiT and the image encoder from it
    # (its encoder's first layer is shifted by 1 to tell it from a fresh one).
    shipped = SmallImageEncoder.from_pretrained(run / "pipeline" / "conditioning" / "image")
    with torch.no_grad():
        shipped.net[0].weight += 1.0
    shipped.save_pretrained(run / "pipeline" / "conditioning" / "image")
    # ... and keeps what the run does not retrain: its sampling defaults, trust_bake and its
    # view net (a shipped model's, set by hand and trained apart).
    settings = json.loads((run / "pipeline" / "pipeline.json").read_text())
    settings["defaults"]["steps"] = 7
    settings |= {"image_defaults": {"guidance": 2.0}, "trust_bake": True}
    (run / "pipeline" / "pipeline.json").write_text(json.dumps(settings))
    torch.manual_seed(0)
    ViewNet(image_size=16, width=32).save_pretrained(run / "pipeline" / "view")
    warm = [
        *args[:7],
        "--out",
        str(tmp_path / "warm"),
        *args[9:],
        "--init-from",
        str(run / "pipeline"),
    ]
    result = CliRunner().invoke(app, warm)
    assert result.exit_code == 0, result.output
    restarted = SmallImageEncoder.from_pretrained(tmp_path / "warm" / "image_encoder")
    assert torch.allclose(restarted.net[0].weight, shipped.net[0].weight, atol=0.05)
    fine_tuned = Pipeline.from_pretrained(tmp_path / "warm" / "pipeline", device="cpu")
    assert fine_tuned.defaults.steps == 7 and fine_tuned.config.trust_bake
    assert fine_tuned.config.image_defaults == {"guidance": 2.0}
    assert fine_tuned.view_net is not None and fine_tuned.view_net.config.image_size == 16
    assert fine_tuned.config.latent_std == pytest.approx(cache.meta["latent_std"])

    # ... also at another image size: the convolutions carry over, the position embedding
    # is resampled to the finer token grid (one token at 16, 2 x 2 at 32).
    finer = [*warm[:-4], "--image-size", "32", *warm[-2:]]
    finer[finer.index(str(tmp_path / "warm"))] = str(tmp_path / "finer")
    result = CliRunner().invoke(app, finer)
    assert result.exit_code == 0, result.output
    restarted = SmallImageEncoder.from_pretrained(tmp_path / "finer" / "image_encoder")
    assert restarted.config.image_size == 32 and restarted.position.shape[1] == 4
    assert torch.allclose(restarted.net[0].weight, shipped.net[0].weight, atol=0.05)

    # ... and deeper: residual blocks added to the trained encoder (starting as the
    # identity), kept when a later run warm-starts from it without --image-blocks.
    deeper = [*warm, "--image-blocks", "1"]
    deeper[deeper.index(str(tmp_path / "warm"))] = str(tmp_path / "deeper")
    result = CliRunner().invoke(app, deeper)
    assert result.exit_code == 0, result.output
    restarted = SmallImageEncoder.from_pretrained(tmp_path / "deeper" / "image_encoder")
    assert restarted.config.blocks == 1
    assert torch.allclose(restarted.net[0].weight, shipped.net[0].weight, atol=0.05)
    again = [*warm[:-1], str(tmp_path / "deeper" / "pipeline")]
    again[again.index(str(tmp_path / "warm"))] = str(tmp_path / "again")
    result = CliRunner().invoke(app, again)
    assert result.exit_code == 0, result.output
    assert SmallImageEncoder.from_pretrained(tmp_path / "again" / "image_encoder").config.blocks
    shallower = [*again, "--image-blocks", "0"]
    shallower[shallower.index(str(tmp_path / "again"))] = str(tmp_path / "shallower")
    result = CliRunner().invoke(app, shallower)
    assert result.exit_code != 0 and "shallower" in str(result.exception)
    assert not (tmp_path / "shallower" / "latents").exists()  # said before any work

    result = CliRunner().invoke(app, [*args[:-2], "--image-size", "24"])
    assert result.exit_code != 0 and "multiple of 16" in str(result.exception)


def test_an_interrupted_render_cache_resumes_with_the_same_pictures(
    prepared, tmp_path: Path, monkeypatch
) -> None:
    from gen3d.data import renders as render_module
    from gen3d.data.shards import DatasetError

    data, _ = prepared
    arguments = {"view": (30.0, 20.0), "size": 16, "views_per_shape": 2, "progress": False}
    whole = render_module.cache_renders(data, tmp_path / "whole", **arguments)
    expected = load_file(str(whole / render_module.RENDERS_FILE))["images"]

    monkeypatch.setattr(render_module, "RENDER_CHUNK", 2)  # 6 shapes: 3 parts
    render_part, calls = render_module._render_part, []

    def dies_on_the_second_part(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return render_part(*args)

    monkeypatch.setattr(render_module, "_render_part", dies_on_the_second_part)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        render_module.cache_renders(data, out, **arguments)
    assert [p.name for p in sorted((out / "parts").glob("part-*"))] == ["part-00000.safetensors"]
    assert not (out / render_module.RENDERS_FILE).exists()
    with pytest.raises(DatasetError, match="other arguments"):
        render_module.cache_renders(data, out, **{**arguments, "size": 32})

    monkeypatch.setattr(render_module, "_render_part", render_part)
    render_module.cache_renders(data, out, workers=2, **arguments)  # the other two, in parallel
    assert torch.equal(load_file(str(out / render_module.RENDERS_FILE))["images"], expected)
    assert not (out / "parts").exists()
    assert json.loads((out / "renders.json").read_text()) == json.loads(
        (whole / "renders.json").read_text()
    )


def test_renders_from_several_views_teach_shapes_from_any_side(prepared, tmp_path: Path) -> None:
    import numpy as np

    from gen3d.data.renders import RENDERS_META, cache_renders, load_renders, reference_render
    from gen3d.data.shards import DatasetError
    from gen3d.images import prepare_image

    data, vae_path = prepared
    reference = (30.0, 20.0)
    folder = cache_renders(
        data, tmp_path / "renders", view=reference, size=32, views_per_shape=3, progress=False
    )
    meta = json.loads((folder / RENDERS_META).read_text())
    renders = load_renders(folder, meta["ids"])
    assert renders.shape == (6, 3, 3, 32, 32)
    for views in meta["views"]:
        assert views[0] == list(reference)  # the reference view first, the rest at random
        assert all(0.0 <= elevation <= 45.0 for _, elevation in views[1:])
        assert len({tuple(view) for view in views}) == 3
    # The reference view is rendered exactly as a single reference render is.
    from gen3d.data.dataset import ShapeDataset
    from gen3d.data.procedural import generate_shape

    entry = ShapeDataset(data, split=None, n_surface=1, n_near=1, n_volume=1).entries[0]
    shape = generate_shape(entry["category"], entry["seed"], margin=0.1)
    single = np.array(prepare_image(reference_render(shape, reference, 64), 32))
    assert np.abs(renders[0, 0].permute(1, 2, 0).numpy().astype(int) - single).mean() < 1.0
    assert (renders[:, 1] != renders[:, 2]).any()  # other views, other pictures

    # Training picks one view per access: random, or fixed for a seeded dataset.
    vae = VecSetVAE.from_pretrained(vae_path)
    cache = cache_latents(
        vae, TextEncoder(), data, tmp_path / "cache", encoder_points=128, progress=False
    )
    shuffled = LatentDataset(cache, split=None, renders=folder)
    seen = {shuffled[0]["cond_images"].sum().item() for _ in range(30)}
    assert len(seen) == 3
    seeded = LatentDataset(cache, split=None, seed=4, renders=folder)
    assert torch.equal(seeded[0]["cond_images"], seeded[0]["cond_images"])
    # A reference share shows the reference view that often, the other views alike otherwise.
    first = renders[0, 0].float() / 255.0
    mixed = LatentDataset(cache, split=None, renders=folder, reference_share=0.5)
    picks = [mixed[0]["cond_images"] for _ in range(400)]
    assert 160 < sum(torch.equal(image, first) for image in picks) < 240
    assert len({image.sum().item() for image in picks}) == 3
    always = LatentDataset(cache, split=None, renders=folder, reference_share=1.0)
    assert all(torch.equal(always[0]["cond_images"], first) for _ in range(20))
    never = LatentDataset(cache, split=None, renders=folder, reference_share=0.0)
    assert not any(torch.equal(never[0]["cond_images"], first) for _ in range(50))
    with pytest.raises(ValueError, match="reference_view_share"):
        DiTTrainConfig(reference_view_share=1.5)
    with pytest.raises(ValueError, match="at least 1"):
        cache_renders(data, tmp_path / "none", view=reference, size=16, views_per_shape=0)
    with pytest.raises(DatasetError, match="no renders"):
        load_renders(tmp_path / "none", meta["ids"])


def test_train_dit_in_bf16_as_on_a_gpu(prepared, tmp_path: Path, fresh_accelerate_state) -> None:
    # "auto" is bf16 on CUDA: the whole command (latents, image renders, training, validation
    # samples meshed) through CPU bf16 autocast, the flow a GPU runs.
    data, vae_path = prepared
    config = tmp_path / "dit.json"
    options = {"model": {"width": 32, "depth": 1, "heads": 4}, "steps": 2, "warmup_steps": 1}
    options |= {"image_fraction": 0.5, "checkpoint_every": 2, "validate_every": 2}
    config.write_text(json.dumps(options | {"mixed_precision": "bf16"}))
    run = tmp_path / "run"
    args = ["train-dit", "--config", str(config), "--vae", str(vae_path), "--data", str(data)]
    args += ["--out", str(run), "--batch-size", "2", "--samples", "1", "--image-size", "16"]
    result = CliRunner().invoke(app, [*args, "--image-views", "2"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "the reference view and 1 random view " in result.output
    assert (run / "renders-16x2" / "renders.safetensors").is_file()
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 2 and 0 <= record["val_meshed"] <= 1
    assert (run / "pipeline" / "pipeline.json").is_file()
