"""A new DiT variant in a file of your own: subclass, register, train, sample.

    .venv/bin/python examples/new_dit_variant.py [STEPS]

It conditions only through adaLN (time + pooled condition): token-wise MLPs, no attention.
``train_dit`` and ``sample_latents`` are the built-in variants' own; the toy data
(``dit.toy``) have a known answer, so the printout shows whether it learned.
"""

import sys
import tempfile

import torch
from diffusers.configuration_utils import register_to_config
from diffusers.models.normalization import AdaLayerNormZeroSingle
from torch import nn

from dit import LatentDiT, register_dit
from dit.toy import TOY_SHAPES, UNCONDITIONAL, mode_accuracy, toy_batches, toy_condition
from dit.trainer import DiTTrainConfig, train_dit


class MLPBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.norm = AdaLayerNormZeroSingle(width)  # adaLN-zero: shift, scale and gate
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x, temb):
        h, gate = self.norm(x, emb=temb)
        return x + gate[:, None] * self.mlp(h)


@register_dit("pooled-mlp")
class PooledMLPDiT(LatentDiT):
    @register_to_config
    def __init__(self, latent_shape=(1, 2), width=64, depth=3, cond_dim=4, pooled_dim=4):
        super().__init__()
        self._init_io(latent_shape, width, 1, cond_dim, pooled_dim, patch_size=1)
        self.blocks = nn.ModuleList([MLPBlock(width) for _ in range(depth)])
        self.zero_init()  # outputs and gates start at zero

    def run_blocks(self, tokens, context, temb, context_mask):
        for block in self.blocks:
            tokens = block(tokens, temb)
        return tokens


def main(steps: int) -> float:
    config = DiTTrainConfig(variant="pooled-mlp", model=TOY_SHAPES, steps=steps, lr=2e-3)
    with tempfile.TemporaryDirectory() as out:
        uncond = toy_condition(torch.tensor([UNCONDITIONAL]))
        model = train_dit(config, toy_batches(), uncond, out, progress=False)
    accuracy = mode_accuracy(model)
    print(f"pooled-mlp, {steps} steps: {accuracy:.0%} of samples at their condition's mode")
    return accuracy


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
