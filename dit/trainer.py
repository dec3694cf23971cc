"""Train a DiT variant on (cached) shape latents with the rectified-flow objective.

One loop for CPU, one GPU or many (accelerate; bf16 autocast on CUDA): draw a batch of
latents and condition embeddings, drop conditions for classifier-free guidance, take the
flow-matching loss, clip, step, update the EMA weights. Checkpoints are atomic
(``out/checkpoints/last``, EMA included) and a rerun resumes there; the EMA weights are
saved as ``out/model`` (what sampling should use).

Batches are dicts: ``latents (B, *latent_shape)``, ``cond_tokens (B, L, D)``,
``cond_mask (B, L)``, ``cond_pooled (B, P)``; other keys are ignored.
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
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from .flow import Conditioning, drop_conditions, flow_matching_loss
from .registry import build_dit, check_dit_options, load_dit

#: ``validate(ema_model, step) -> metrics``
Validate = Callable[[Any, int], dict[str, float]]


@dataclass(frozen=True)
class DiTTrainConfig:
    """Everything a DiT training run depends on; saved with every checkpoint."""

    variant: str = "dit-cross"
    model: dict[str, Any] = field(default_factory=dict)  # the variant's options
    steps: int = 2000
    lr: float = 3e-4
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    cond_dropout: float = 0.1  # probability of training a batch item unconditionally
    logit_mean: float = 0.0  # logit-normal timestep sampling (SD3)
    logit_std: float = 1.0
    ema_decay: float = 0.999
    mixed_precision: str = "auto"  # "auto" (bf16 on CUDA, none on CPU), "no", "bf16", "fp16"
    compile: bool = False  # torch.compile the model (GPU runs)
    checkpoint_every: int = 500
    validate_every: int = 500
    seed: int = 0
    # With an image encoder (trained jointly): the share of steps conditioned on images
    # rather than text, so that one DiT serves both.
    image_fraction: float = 0.5
    # Of those image steps, the share shown the shape's first view (a render cache's reference
    # view); None picks among all views alike. Set it to keep the reference view sharp while
    # training on many random views.
    reference_view_share: float | None = None
    # A saved DiT (folder) whose weights start this run, e.g. to follow a VAE that was
    # fine-tuned; the architectures must match. A resumed run ignores it: the checkpoint wins.
    init_from: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "checkpoint_every", "validate_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if self.lr <= 0 or self.grad_clip <= 0 or self.warmup_steps < 0:
            raise ValueError("lr and grad_clip must be positive and warmup_steps >= 0")
        if not 0 <= self.cond_dropout < 1:
            raise ValueError(f"cond_dropout must be in [0, 1), not {self.cond_dropout}")
        if not 0 <= self.image_fraction <= 1:
            raise ValueError(f"image_fraction must be in [0, 1], not {self.image_fraction}")
        share = self.reference_view_share
        if share is not None and not 0 <= share <= 1:
            raise ValueError(f"reference_view_share must be in [0, 1], not {share}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay}")
        if self.logit_std <= 0:
            raise ValueError(f"logit_std must be positive, not {self.logit_std}")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError(
                f"mixed_precision must be auto, no, bf16 or fp16, not {self.mixed_precision!r}"
            )
        check_dit_options(self.variant, self.model)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiTTrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> DiTTrainConfig:
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


def _conditioning(batch: dict[str, Any], device: torch.device) -> Conditioning:
    mask = batch.get("cond_mask")
    return Conditioning(
        batch["cond_tokens"].to(device),
        batch["cond_pooled"].to(device),
        None if mask is None else mask.to(device),
    )


def _save_checkpoint(accelerator: Accelerator, out: Path, step: int, config: DiTTrainConfig):
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


def copy_weights(source: torch.nn.Module, model: torch.nn.Module, name: str | Path) -> None:
    """Load ``source``'s weights into ``model`` (cast to its dtype), or raise ValueError
    naming ``name`` when their architectures differ."""
    mine, theirs = model.state_dict(), source.state_dict()
    mismatched = sorted(
        key
        for key in set(mine) | set(theirs)
        if key not in mine or key not in theirs or mine[key].shape != theirs[key].shape
    )
    if mismatched:
        raise ValueError(
            f"cannot start from {name}: its architecture differs ({', '.join(mismatched[:4])}"
            f"{', ...' if len(mismatched) > 4 else ''})"
        )
    model.load_state_dict({key: value.to(mine[key].dtype) for key, value in theirs.items()})


def train_dit(
    config: DiTTrainConfig,
    train_data: Iterable[dict[str, Any]],
    uncond: Conditioning,
    out: str | Path,
    *,
    validate: Validate | None = None,
    progress: bool = True,
    image_encoder: torch.nn.Module | None = None,
) -> Any:
    """Train (or resume from ``out/checkpoints/last``); returns the model with EMA weights.

    ``uncond`` is the unconditional embedding (one item) that dropped conditions become.
    With ``image_encoder`` (a module mapping images ``(B, 3, S, S)`` in [0, 1] to a
    ``Conditioning``, with ``unconditional(batch)``), batches also carry ``cond_images`` and
    a share ``config.image_fraction`` of the steps condition on them instead of the text:
    the encoder trains with the DiT (its unconditional embedding too), and its EMA weights
    are saved to ``out/image_encoder``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(mixed_precision=precision)
    torch.manual_seed(config.seed)
    model = build_dit(config.variant, **config.model)
    if config.init_from:
        copy_weights(load_dit(config.init_from), model, config.init_from)
    ema = EMAModel(model.parameters(), decay=config.ema_decay)
    parameters = list(model.parameters())
    encoder_ema = None
    if image_encoder is not None:
        encoder_ema = EMAModel(image_encoder.parameters(), decay=config.ema_decay)
        parameters += list(image_encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    trained = torch.compile(model) if config.compile else model
    trained, optimizer, scheduler = accelerator.prepare(trained, optimizer, scheduler)
    accelerator.register_for_checkpointing(ema)
    if image_encoder is not None:
        image_encoder = accelerator.prepare(image_encoder)
        accelerator.register_for_checkpointing(encoder_ema)
    if hasattr(train_data, "dataset"):  # a DataLoader: let accelerate shard and place it
        train_data = accelerator.prepare(train_data)

    step = 0
    last = out / "checkpoints" / "last"
    if (last / "trainer_state.json").is_file():
        accelerator.load_state(str(last))
        step = int(json.loads((last / "trainer_state.json").read_text(encoding="utf-8"))["step"])
    ema.to(accelerator.device)
    if encoder_ema is not None:
        encoder_ema.to(accelerator.device)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")

    uncond = uncond.to(accelerator.device)
    generator = torch.Generator(device=accelerator.device).manual_seed(config.seed + step)
    batches = _forever(train_data)
    bar = tqdm(
        total=config.steps,
        initial=step,
        disable=not progress or not accelerator.is_main_process,
        desc="train-dit",
        unit="step",
    )
    metrics_file = out / "metrics.jsonl"
    while step < config.steps:
        batch = next(batches)
        latents = batch["latents"].to(accelerator.device)
        trained.train()
        on_images = image_encoder is not None and "cond_images" in batch
        on_images = (
            on_images
            and float(torch.rand(1, generator=generator, device=accelerator.device))
            < config.image_fraction
        )
        if on_images:
            image_encoder.train()
            cond = image_encoder(batch["cond_images"].to(accelerator.device))
            step_uncond = accelerator.unwrap_model(image_encoder).unconditional(1)
        else:
            cond, step_uncond = _conditioning(batch, accelerator.device), uncond
        cond = drop_conditions(cond, step_uncond, config.cond_dropout, generator)
        with accelerator.autocast():
            loss = flow_matching_loss(
                trained,
                latents,
                cond,
                generator=generator,
                logit_mean=config.logit_mean,
                logit_std=config.logit_std,
            )
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the DiT loss became {float(loss)} at step {step + 1}")
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        grad_norm = accelerator.clip_grad_norm_(trained.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        ema.step(accelerator.unwrap_model(trained).parameters())
        if encoder_ema is not None:
            encoder_ema.step(accelerator.unwrap_model(image_encoder).parameters())
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if step % config.validate_every == 0 or step == config.steps:
            record = {
                "step": step,
                "loss": float(loss.detach()),
                "lr": scheduler.get_last_lr()[0],
                "grad_norm": float(grad_norm),
            }
            if validate is not None and accelerator.is_main_process:
                record.update(validate(_ema_model(accelerator, trained, ema), step))
            if accelerator.is_main_process:
                with metrics_file.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
        if step % config.checkpoint_every == 0 or step == config.steps:
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                _save_checkpoint(accelerator, out, step, config)
    bar.close()
    final = _ema_model(accelerator, trained, ema)
    if accelerator.is_main_process:
        final.save_pretrained(out / "model")
        if image_encoder is not None:
            _ema_model(accelerator, image_encoder, encoder_ema).save_pretrained(
                out / "image_encoder"
            )
    return final


def _ema_model(accelerator: Accelerator, trained: Any, ema: EMAModel) -> Any:
    """A copy of the model carrying the EMA weights, in eval mode."""
    model = accelerator.unwrap_model(trained)
    model = getattr(model, "_orig_mod", model)  # torch.compile's wrapper
    copy = type(model).from_config(model.config).to(accelerator.device)
    copy.load_state_dict(model.state_dict())
    ema.copy_to(copy.parameters())
    return copy.eval()
