"""The generation options that ``gen3d generate``, ``texture`` and ``batch`` share, declared once.

Their ranges are checked by the pipeline (``gen3d.pipeline.OPTION_RANGES``), which the help
texts quote; the pipeline is not imported here, so that ``--help`` stays quick.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

GENERATION_HELP = {
    "steps": "Sampling steps (1-200).",
    "guidance": "Guidance scale (0-30; 1 = none).",
    "resolution": "Mesh grid resolution (32-512).",
    "face_count": "Faces after decimation (0 = all).",
    "texture_size": "Texture pixels (0 = vertex colours).",
    "refine_steps": "With --image: refine the texture against it (0-1000 steps; unset: the "
    "model's default, 50 for the default model).",
}


def generation_option(name: str, *, help: str | None = None, panel: str | None = None) -> Any:
    """A ``--NAME`` option of the pipeline's ``name`` (None: the model's default), with its
    shared help text unless ``help`` words it for the command."""
    return typer.Option(None, help=help or GENERATION_HELP[name], rich_help_panel=panel)


def given_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """The generation options among a command's ``params`` (``ctx.params``) that the user
    set (None means the model's default)."""
    return {
        name: value
        for name, value in params.items()
        if name in GENERATION_HELP and value is not None
    }
