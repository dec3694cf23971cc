"""Start a VAE's training from another saved VAE's weights.

The use: give a trained VAE a new encoder input (``use_colours``) without training from
scratch. Every tensor whose name and shape match is copied. A linear layer that gained input
columns (the new input is appended last, see ``vae.field.encoder_inputs``) gets the old
columns copied and the new ones zeroed, so the warm-started model computes exactly what the
old one did until training teaches it to use the new input.

>>> from vae.registry import build_vae
>>> old = build_vae("vecset", width=32, num_latents=8, latent_channels=4, decoder_layers=1)
>>> new = build_vae("vecset", width=32, num_latents=8, latent_channels=4, decoder_layers=1,
...                 use_colours=True)
>>> warm_start_from_model(new, old)["widened"]
['point_embed.weight']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .registry import load_vae


def warm_start_from_model(model: torch.nn.Module, source: torch.nn.Module) -> dict[str, list[str]]:
    """Copy ``source``'s weights into ``model`` in place; returns what was ``copied``,
    ``widened`` (new input columns zeroed) and left ``fresh`` (absent from the source).

    Raises ValueError for a tensor present in both with shapes that cannot be reconciled:
    the two are different architectures, and a silent partial copy would hide that.
    """
    theirs = source.state_dict()
    report: dict[str, list[str]] = {"copied": [], "widened": [], "fresh": []}
    with torch.no_grad():
        for name, mine in model.state_dict().items():
            if name not in theirs:
                report["fresh"].append(name)
                continue
            old = theirs[name].to(mine.dtype)
            if old.shape == mine.shape:
                mine.copy_(old)
                report["copied"].append(name)
            elif (
                mine.dim() == 2
                and old.dim() == 2
                and old.shape[0] == mine.shape[0]
                and old.shape[1] < mine.shape[1]
            ):
                mine.zero_()
                mine[:, : old.shape[1]] = old
                report["widened"].append(name)
            else:
                raise ValueError(
                    f"cannot warm-start {name}: shape {tuple(old.shape)} in the source, "
                    f"{tuple(mine.shape)} here (a different architecture?)"
                )
    return report


def warm_start(model: torch.nn.Module, path: str | Path) -> dict[str, list[str]]:
    """``warm_start_from_model`` from a VAE saved with ``save_pretrained`` at ``path``."""
    path = Path(path)
    try:
        source: Any = load_vae(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot warm-start from {path}: {error}") from error
    return warm_start_from_model(model, source)
