"""``gen3d train-dit``: cache a dataset's latents with a trained VAE, then train a DiT on them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import typer

from gen3d.errors import Gen3DError


class TrainDiTError(Gen3DError):
    exit_code = 2


#: ``pipeline.json`` settings a fine-tune (``--init-from``) keeps from the pipeline it started
#: from: how it samples and whether its bake is trusted. The latent statistics are the run's
#: own, and the reference view is the one its renders were made from.
INHERITED_SETTINGS = ("shift", "defaults", "image_defaults", "trust_bake")


@dataclasses.dataclass(frozen=True)
class Inheritance:
    """What a fine-tune keeps from the pipeline it started from (see ``inherit_from``)."""

    settings: dict[str, Any]
    view_net: Any = None


def inherit_from(folder: Path) -> Inheritance:
    """The ``INHERITED_SETTINGS`` and view net of the pipeline folder ``--init-from`` names,
    read before training so that a malformed ``pipeline.json`` or view net stops the run at
    once rather than after it trained. A folder without ``pipeline.json`` (a bare DiT and
    image encoder) lends nothing."""
    import torch

    from gen3d.pipeline import PIPELINE_FILE, PipelineConfig, PipelineError, load_view_net

    if not (folder / PIPELINE_FILE).is_file():
        return Inheritance(settings={})
    try:
        source = PipelineConfig.load(folder)
        view_net = load_view_net(folder, torch.device("cpu"))
    except PipelineError as error:
        raise TrainDiTError(f"--init-from: {error}") from error
    settings = {name: getattr(source, name) for name in INHERITED_SETTINGS}
    return Inheritance(settings=settings, view_net=view_net)


def source_image_encoder(
    init_from: Path | None, image_size: int, image_blocks: int | None
) -> tuple[Any, int]:
    """The ``--init-from`` pipeline's image encoder, made the run's size and depth (None
    without one), and the run encoder's residual blocks per stage: ``--image-blocks``, else
    the source encoder's."""
    from gen3d.conditioning import SmallImageEncoder

    start = init_from / "conditioning" / "image" if init_from is not None else None
    if start is None or not (start / "config.json").is_file():
        return None, image_blocks or 0
    try:
        source = SmallImageEncoder.from_pretrained(start)
        blocks = image_blocks if image_blocks is not None else source.config.blocks
        if source.config.image_size != image_size:  # e.g. 64 -> 128 for thin parts
            source = source.resized(image_size)
        if source.config.blocks != blocks:  # a deeper encoder, warm-started
            source = source.deepened(blocks)
    except (ValueError, OSError) as error:
        raise TrainDiTError(f"--init-from: {start}: {error}") from error
    return source, blocks


def sample_mesh_validator(
    vae: Any,
    cache: Any,
    out: Path,
    count: int = 2,
    steps: int = 16,
    guidance: float = 3.0,
    resolution: int = 64,
) -> Any:
    """A validation callback: sample latents for the first ``count`` validation captions,
    decode them with the VAE and save the meshes as ``out/samples/step-N-I.glb``. Reports
    the fraction of samples whose field has a surface (``val_meshed``)."""
    import torch

    from dit.flow import Conditioning
    from dit.sampling import sample_latents
    from gen3d.mesh import FieldError, export_mesh, extract_dense

    count = min(count, len(cache))
    conds = [cache[i] for i in range(count)]
    captions = cache.captions[:count]

    def validate(model: Any, step: int) -> dict[str, float]:
        if count == 0:
            return {}
        device = next(model.parameters()).device
        cond = Conditioning(
            torch.stack([c["cond_tokens"] for c in conds]).to(device),
            torch.stack([c["cond_pooled"] for c in conds]).to(device),
            torch.stack([c["cond_mask"] for c in conds]).to(device),
        )
        latents = sample_latents(
            model,
            cond,
            cache.unconditional().to(device),
            steps=steps,
            guidance=guidance,
            generator=torch.Generator(device=device).manual_seed(0),
        )
        meshed = 0
        folder = out / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            fields = vae.decode(cache.unscale(latents).to(next(vae.parameters()).device))
            for index in range(count):
                try:
                    mesh = extract_dense(fields[index], resolution).mesh
                except FieldError:
                    continue
                meshed += 1
                export_mesh(
                    mesh,
                    folder / f"step-{step:07d}-{index}.glb",
                    metadata={"step": step, "prompt": captions[index]},
                )
        return {"val_meshed": meshed / count}

    return validate


def train_dit_command(
    config: Path = typer.Option(
        ..., "--config", "-c", exists=True, dir_okay=False, help="Training config (.json/.yaml)."
    ),
    vae: Path = typer.Option(..., "--vae", help="A trained VAE folder (RUN/model of train-vae)."),
    data: Path = typer.Option(..., "--data", "-d", help="The dataset the VAE was trained on."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: cache, checkpoints, model."),
    cache: Path | None = typer.Option(
        None, help="Latent cache folder (default OUT/latents; built once, then reused)."
    ),
    text_encoder: Path | None = typer.Option(
        None, help="A local transformers text model (default: the packaged all-MiniLM-L6-v2)."
    ),
    batch_size: int = typer.Option(32, min=1, help="Latents per step."),
    samples: int = typer.Option(2, min=0, help="Validation prompts sampled and meshed."),
    image_size: int = typer.Option(
        0,
        min=0,
        max=512,
        help="Also train a small image encoder on reference-view renders of this size (a "
        "multiple of 16), so the pipeline takes images too; 0: text only.",
    ),
    image_views: int = typer.Option(
        1,
        min=1,
        max=64,
        help="With --image-size: views rendered per shape, the reference view and the rest at "
        "random (any azimuth, elevation 0-45), one picked per step, so the image encoder "
        "knows shapes from any side; 1: the reference view only.",
    ),
    image_blocks: int | None = typer.Option(
        None,
        min=0,
        max=8,
        help="With --image-size: residual blocks per stage of the image encoder (more depth "
        "for thin parts); default: as --init-from's encoder, else 0. Deepening a trained "
        "encoder starts the new blocks as the identity.",
    ),
    render_workers: int = typer.Option(
        1,
        min=1,
        max=64,
        help="With --image-size: processes that render the training images (once, resumable); "
        "one per core is fastest when nothing else runs.",
    ),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="A trained pipeline folder whose DiT (and image encoder) start the run, e.g. after "
        "fine-tuning its VAE; the new pipeline keeps its sampling defaults, trust_bake and "
        "view net.",
    ),
) -> None:
    """Train a DiT on a dataset's latents (resumes from OUT/checkpoints/last if it exists).

    \b
    Example:
      gen3d train-vae --config scripts/configs/vae-small.yaml --data data/shapes --out runs/vae
      gen3d train-dit --config scripts/configs/dit-small.yaml --vae runs/vae/model \\
          --data data/shapes --out runs/dit
      gen3d train-dit ... --image-size 64     # one DiT for text and image input
      gen3d train-dit ... --image-size 64 --image-views 8   # images taken from any side
      gen3d train-dit ... --image-size 128 --image-views 8 --render-workers 2
      gen3d train-dit ... --image-size 64 --image-views 8 --image-blocks 2 --init-from PIPE
    """
    import torch

    from dit.trainer import DiTTrainConfig, copy_weights, train_dit
    from gen3d.conditioning import TextEncoder
    from gen3d.data.latents import LatentDataset, cache_latents
    from vae import load_vae

    try:
        train_config = DiTTrainConfig.from_file(config)
        if init_from is not None:
            if not (init_from / "dit" / "config.json").is_file():
                raise ValueError(f"--init-from {init_from} is not a pipeline folder (no dit/)")
            train_config = dataclasses.replace(train_config, init_from=str(init_from / "dit"))
    except (ValueError, OSError) as error:
        raise TrainDiTError(f"{config}: {error}") from error
    if image_size % 16:
        raise TrainDiTError(f"--image-size must be a multiple of 16, not {image_size}")
    # What --init-from lends, read now: a broken source stops the run before hours of work.
    inheritance = inherit_from(init_from) if init_from is not None else None
    source, blocks = (
        source_image_encoder(init_from, image_size, image_blocks) if image_size else (None, 0)
    )
    try:
        autoencoder = load_vae(vae)
    except (FileNotFoundError, ValueError) as error:
        raise TrainDiTError(f"--vae: {error}") from error
    cache = cache or out / "latents"
    if not (cache / "cache.json").is_file():
        typer.echo(f"caching latents of {data} in {cache} (once)")
        cache_latents(autoencoder, TextEncoder(text_encoder), data, cache)
    renders = None
    if image_size:
        from gen3d.data.renders import RENDERS_FILE, cache_renders
        from gen3d.pipeline import PipelineConfig

        suffix = "" if image_views == 1 else f"x{image_views}"
        renders = out / f"renders-{image_size}{suffix}"
        if not (renders / RENDERS_FILE).is_file():
            extra = image_views - 1
            views = "the reference view" + (
                f" and {extra} random view{'s' if extra > 1 else ''}" if extra else ""
            )
            typer.echo(f"rendering {data} from {views} into {renders} (once)")
            view = tuple(PipelineConfig(latent_mean=0.0, latent_std=1.0).reference_view)
            cache_renders(
                data,
                renders,
                view=view,
                size=image_size,
                views_per_shape=image_views,
                workers=render_workers,
            )
    train_set = LatentDataset(
        cache, split="train", renders=renders, reference_share=train_config.reference_view_share
    )
    if len(train_set) == 0:
        raise TrainDiTError(f"{cache} has no training latents")
    meta = train_set.meta
    model = {
        "latent_shape": tuple(meta["latent_shape"]),
        "cond_dim": meta["cond_dim"],
        "pooled_dim": meta["pooled_dim"],
        **train_config.model,
    }
    train_config = dataclasses.replace(train_config, model=model)
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=batch_size, shuffle=True, drop_last=len(train_set) > batch_size
    )
    # Captions to sample for validation: held-out ones when the dataset has any.
    for split in ("val", "test", "train"):
        validation = LatentDataset(cache, split=split, seed=0)
        if len(validation):
            break
    validate = (
        sample_mesh_validator(autoencoder, validation, out, count=samples) if samples else None
    )
    image_encoder = None
    if image_size:
        from gen3d.conditioning import SmallImageEncoder

        torch.manual_seed(train_config.seed)
        image_encoder = SmallImageEncoder(
            image_size=image_size, width=meta["cond_dim"], blocks=blocks
        )
        if source is not None:
            try:
                copy_weights(source, image_encoder, init_from / "conditioning" / "image")
            except ValueError as error:
                raise TrainDiTError(f"--init-from: {error}") from error
        if meta["pooled_dim"] != meta["cond_dim"]:
            raise TrainDiTError(
                "image conditioning needs the text encoder's pooled and token "
                "widths to match (the small image encoder gives one width)"
            )
    try:
        train_dit(
            train_config,
            loader,
            train_set.unconditional(),
            out,
            validate=validate,
            image_encoder=image_encoder,
        )
    except ValueError as error:  # a config the data or --init-from contradicts
        raise TrainDiTError(str(error)) from error
    typer.echo(f"model saved to {out / 'model'}; metrics in {out / 'metrics.jsonl'}")
    pipeline = assemble_pipeline(
        autoencoder,
        out / "model",
        text_encoder,
        meta,
        out / "pipeline",
        image_encoder=out / "image_encoder" if image_size else None,
        inheritance=inheritance,
    )
    typer.echo(
        f'pipeline saved to {pipeline}; try: gen3d generate "a chair" -o x.glb --model {pipeline}'
    )


def assemble_pipeline(
    autoencoder: Any,
    dit_path: Path,
    text_encoder: Path | None,
    meta: dict[str, Any],
    out: Path,
    image_encoder: Path | None = None,
    inheritance: Inheritance | None = None,
) -> Path:
    """A generation pipeline folder from a trained VAE, the DiT's EMA weights, the text
    encoder the captions were embedded with, the image encoder trained with the DiT (if
    any), the latent statistics the DiT trained on, and the training captions (known
    prompts, so that the pipeline can say when a prompt is unlike all of them).

    ``inheritance``, from the pipeline a fine-tune started from, lends what the run did not
    retrain: its ``INHERITED_SETTINGS`` (sampling defaults, ``trust_bake``) and its view net,
    so that the fine-tuned pipeline generates and refines as the one it came from did."""

    from dit import load_dit
    from gen3d.conditioning import SmallImageEncoder, TextEncoder
    from gen3d.pipeline import Pipeline, PipelineConfig
    from gen3d.vocabulary import KnownPrompts

    config = PipelineConfig(latent_mean=meta["latent_mean"], latent_std=meta["latent_std"])
    if inheritance is not None:
        config = dataclasses.replace(config, **inheritance.settings)
    images = SmallImageEncoder.from_pretrained(image_encoder) if image_encoder else None
    text = TextEncoder(text_encoder)
    captions = [
        caption
        for entry in meta.get("entries", [])
        if entry.get("split") == "train"
        for caption in entry.get("captions") or []
    ]
    known = KnownPrompts.build(text, captions) if captions else None
    pipeline = Pipeline(
        autoencoder,
        load_dit(dit_path),
        text,
        images,
        config,
        known_prompts=known,
        view_net=inheritance.view_net if inheritance is not None else None,
    )
    return pipeline.save_pretrained(out)
