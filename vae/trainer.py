"""Train a shape VAE with accelerate: one loop for CPU, one GPU, or many.

The loop is readable in one sitting: encode a batch's surface points, decode, query the
field at near/volume/surface points, take the losses of ``vae.losses``, clip, step. It
checkpoints atomically (``out/checkpoints/last``) and resumes from there; validation is a
callback, so this package needs no dataset or metric code (those live in ``gen3d``).

Batches are dicts in the layout of ``gen3d.data.ShapeDataset`` (surface_points/normals/
colours, has_colour, near_points/sdf, volume_points/sdf); other keys are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from diffusers.optimization import get_cosine_schedule_with_warmup
from tqdm.auto import tqdm

from .field import surface_colours_or_grey
from .losses import LossWeights, reconstruction_losses
from .registry import build_vae, check_vae_options
from .warm_start import warm_start

Validate = Callable[[Any, int], dict[str, float]]
TENSOR_KEYS = (
    "surface_points",
    "surface_normals",
    "surface_colours",
    "has_colour",
    "near_points",
    "near_sdf",
    "volume_points",
    "volume_sdf",
)


@dataclass(frozen=True)
class VAETrainConfig:
    """Everything a training run depends on; saved with every checkpoint."""

    model_type: str = "vecset"  # a name in vae.registry.VAE_TYPES: "vecset" or "triplane"
    model: dict[str, Any] = field(default_factory=dict)  # the model class's arguments
    loss: dict[str, float] = field(default_factory=dict)  # LossWeights fields
    steps: int = 2000
    lr: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    encoder_points: int = 2048  # surface points the encoder sees per shape
    sample_posterior: bool = True
    mixed_precision: str = "auto"  # "auto" (bf16 on CUDA, none on CPU), "no", "bf16", "fp16"
    checkpoint_every: int = 500
    validate_every: int = 500
    seed: int = 0
    # A saved VAE (folder) whose weights start this run; see vae.warm_start. Relative paths
    # are from the working directory. A resumed run ignores it: the checkpoint wins.
    init_from: str | None = None
    # Train the decoder only: the encoder keeps its (warm-started) weights, so every latent
    # stays exactly what it was and a DiT trained on them stays valid.
    freeze_encoder: bool = False
    # Noise added to the latents before decoding, in units of their standard deviation: a
    # decoder trained so answers the DiT's samples, which lie slightly off the encoder's.
    latent_noise: float = 0.0

    def __post_init__(self) -> None:
        for name in ("steps", "checkpoint_every", "validate_every", "encoder_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if not 0.0 <= self.latent_noise <= 1.0:
            raise ValueError(f"latent_noise must be in [0, 1], not {self.latent_noise}")
        if self.lr <= 0 or self.warmup_steps < 0 or self.grad_clip <= 0:
            raise ValueError("lr and grad_clip must be positive and warmup_steps >= 0")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError(
                f"mixed_precision must be auto, no, bf16 or fp16, not {self.mixed_precision!r}"
            )
        # Typos in nested options fail here, not minutes into a run.
        unknown_loss = set(self.loss) - {f.name for f in dataclasses.fields(LossWeights)}
        if unknown_loss:
            raise ValueError(f"unknown loss weights {sorted(unknown_loss)}")
        check_vae_options(self.model_type, self.model)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VAETrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> VAETrainConfig:
        """Read a .json or .yaml config."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config must be a mapping of options")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _forever(loader: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    while True:
        yielded = False
        for batch in loader:
            yielded = True
            yield batch
        if not yielded:
            raise ValueError("the training data is empty")


def _save_checkpoint(
    accelerator: Accelerator, out: Path, step: int, config: VAETrainConfig
) -> None:
    """Write the state to a temporary folder, then swap it in: never a half checkpoint."""
    final, tmp = out / "checkpoints" / "last", out / "checkpoints" / "last.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    accelerator.save_state(str(tmp))
    (tmp / "trainer_state.json").write_text(
        json.dumps({"step": step, "config": config.to_dict()}, indent=2), encoding="utf-8"
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def prepare_training(config: VAETrainConfig) -> tuple[Accelerator, Any, Any, Any]:
    """The accelerator, a fresh model (seeded), its optimizer and LR schedule, prepared."""
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(mixed_precision=precision)
    torch.manual_seed(config.seed)
    model = build_vae(config.model_type, **config.model)
    if config.init_from:
        report = warm_start(model, config.init_from)
        accelerator.print(
            f"warm start from {config.init_from}: {len(report['copied'])} tensors copied, "
            f"widened {report['widened'] or 'none'}, fresh {report['fresh'] or 'none'}"
        )
    if config.freeze_encoder:
        if not config.init_from:
            raise ValueError("freeze_encoder keeps a trained encoder: set init_from too")
        for parameter in model.encoder_parameters():
            parameter.requires_grad_(False)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    return accelerator, model, optimizer, scheduler


def train_step(
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    raw_batch: dict[str, Any],
    config: VAETrainConfig,
    weights: LossWeights,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """One optimisation step on one batch; returns the losses and the gradient norm."""
    batch = {k: raw_batch[k].to(accelerator.device) for k in TENSOR_KEYS}
    encoder_in = slice(0, config.encoder_points)
    model.train()
    with accelerator.autocast():
        # Through the (possibly distributed) model's forward, so gradients synchronise.
        out = model(
            batch["surface_points"][:, encoder_in],
            batch["surface_normals"][:, encoder_in],
            sample_posterior=config.sample_posterior,
            latent_noise=config.latent_noise,
            colours=surface_colours_or_grey(
                batch["surface_colours"][:, encoder_in], batch["has_colour"]
            ),
        )
        losses = reconstruction_losses(out["field"], batch, out["posterior"], weights)
    if not torch.isfinite(losses["total"]):
        raise FloatingPointError(f"the training loss became {float(losses['total'])}")
    optimizer.zero_grad(set_to_none=True)
    accelerator.backward(losses["total"])
    grad_norm = accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    scheduler.step()
    return losses, grad_norm


def train_vae(
    config: VAETrainConfig,
    train_data: Iterable[dict[str, Any]],
    out: str | Path,
    *,
    validate: Validate | None = None,
    progress: bool = True,
) -> Any:
    """Train (or resume, from ``out/checkpoints/last``) and save the model to ``out/model``.

    ``train_data`` is an iterable of batches (a DataLoader); it is cycled until
    ``config.steps``. ``validate(model, step)`` returns metrics, appended with the training
    losses to ``out/metrics.jsonl``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    accelerator, model, optimizer, scheduler = prepare_training(config)
    if hasattr(train_data, "dataset"):  # a DataLoader: let accelerate shard and place it
        train_data = accelerator.prepare(train_data)

    step = 0
    last = out / "checkpoints" / "last"
    if (last / "trainer_state.json").is_file():
        state = json.loads((last / "trainer_state.json").read_text(encoding="utf-8"))
        accelerator.load_state(str(last))
        step = int(state["step"])
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")

    weights = LossWeights(**config.loss)
    batches = _forever(train_data)
    bar = tqdm(
        total=config.steps,
        initial=step,
        disable=not progress or not accelerator.is_main_process,
        desc="train-vae",
        unit="step",
    )
    metrics_file = out / "metrics.jsonl"
    while step < config.steps:
        try:
            losses, grad_norm = train_step(
                accelerator, model, optimizer, scheduler, next(batches), config, weights
            )
        except FloatingPointError as error:
            raise FloatingPointError(f"{error} at step {step + 1}") from error
        step += 1
        bar.update(1)
        bar.set_postfix(
            loss=f"{float(losses['total'].detach()):.4f}",
            sdf=f"{float(losses['sdf'].detach()):.4f}",
        )
        if step % config.validate_every == 0 or step == config.steps:
            record = {
                "step": step,
                "lr": scheduler.get_last_lr()[0],
                "grad_norm": float(grad_norm),
                **{k: float(v.detach()) for k, v in losses.items()},
            }
            if validate is not None and accelerator.is_main_process:
                model.eval()
                with torch.no_grad():
                    record.update(validate(accelerator.unwrap_model(model), step))
            if accelerator.is_main_process:
                with metrics_file.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
        if step % config.checkpoint_every == 0 or step == config.steps:
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                _save_checkpoint(accelerator, out, step, config)
    bar.close()
    final = accelerator.unwrap_model(model)
    if accelerator.is_main_process:
        final.save_pretrained(out / "model")
    return final
