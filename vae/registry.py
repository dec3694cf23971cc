"""Shape autoencoders by name: what configs and checkpoints refer to.

>>> from vae.registry import build_vae
>>> build_vae("triplane", width=64, latent_resolution=8).config.latent_resolution
8
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from .triplane import TriplaneVAE
from .vecset import VecSetVAE

VAE_TYPES: dict[str, type] = {"vecset": VecSetVAE, "triplane": TriplaneVAE}


def vae_class(name: str) -> type:
    try:
        return VAE_TYPES[name]
    except KeyError:
        raise ValueError(
            f"unknown VAE type {name!r}; known: {', '.join(sorted(VAE_TYPES))}"
        ) from None


def check_vae_options(name: str, options: dict[str, Any]) -> None:
    """Raise ValueError for options the named VAE does not take (typos fail early)."""
    known = set(inspect.signature(vae_class(name).__init__).parameters) - {"self"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"unknown model options {unknown} for a {name} VAE; known: {sorted(known)}"
        )


def build_vae(name: str, **options: Any) -> Any:
    check_vae_options(name, options)
    return vae_class(name)(**options)


def load_vae(path: str | Path) -> Any:
    """A VAE saved with ``save_pretrained``, whichever kind it is (from its config.json)."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path} is not a saved VAE (no config.json)")
    class_name = json.loads(config_file.read_text(encoding="utf-8")).get("_class_name")
    for cls in VAE_TYPES.values():
        if cls.__name__ == class_name:
            return cls.from_pretrained(path)
    raise ValueError(f"{path} holds a {class_name}, not one of the shape VAEs")
