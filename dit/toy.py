"""A conditional toy problem with a known answer, for tests, examples and quick checks.

Condition k in {0, 1, 2} gives one-token latents ``(1, 2)`` drawn from N(mode_k, 0.1^2);
label 3 is the unconditional embedding. A DiT that learned the conditioning samples each
condition's mode (``mode_accuracy`` near 1); one that ignores it spreads over all three.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .flow import Conditioning
from .sampling import sample_latents

MODES = torch.tensor([[[2.0, 0.0]], [[0.0, 2.0]], [[-2.0, -2.0]]])  # (3, 1 token, 2 channels)
UNCONDITIONAL = 3
#: DiT options that fit the toy's latents and conditions
TOY_SHAPES = {"latent_shape": (1, 2), "cond_dim": 4, "pooled_dim": 4}


def toy_condition(labels: torch.Tensor) -> Conditioning:
    """One-hot conditions: one token and the pooled vector, both the label's one-hot code."""
    codes = torch.nn.functional.one_hot(labels, 4).float()
    return Conditioning(codes[:, None], codes, torch.ones(len(labels), 1, dtype=torch.bool))


def toy_batches(batch: int = 128, seed: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless training batches in the layout ``dit.trainer.train_dit`` reads."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        labels = torch.randint(0, 3, (batch,), generator=generator)
        cond = toy_condition(labels)
        yield {
            "latents": MODES[labels] + 0.1 * torch.randn(batch, 1, 2, generator=generator),
            "cond_tokens": cond.tokens,
            "cond_pooled": cond.pooled,
            "cond_mask": cond.mask,
        }


def mode_accuracy(
    model: torch.nn.Module, guidance: float = 2.0, per_mode: int = 20, steps: int = 16
) -> float:
    """The fraction of samples nearest to their own condition's mode."""
    labels = torch.arange(3).repeat_interleave(per_mode)
    samples = sample_latents(
        model,
        toy_condition(labels),
        toy_condition(torch.tensor([UNCONDITIONAL])),
        steps=steps,
        guidance=guidance,
        generator=torch.Generator().manual_seed(0),
    )
    nearest = (samples[:, None] - MODES[None]).flatten(2).norm(dim=-1).argmin(dim=1)
    return float((nearest == labels).float().mean())
