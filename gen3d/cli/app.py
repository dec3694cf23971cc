"""The ``gen3d`` Typer app: global options, settings, logging, and one-line errors.

Each subcommand lives in its own module of this package and is registered below; only commands
that work are registered (``gen3d --help`` never lists a placeholder).
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from gen3d import __version__
from gen3d.cli import (
    batch,
    dataset,
    evaluate,
    generate,
    info,
    preview,
    serve,
    texture,
    train_dit,
    train_vae,
    worker,
)
from gen3d.errors import Gen3DError
from gen3d.log import configure_logging
from gen3d.settings import load_settings, unknown_variables

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="gen3d",
    help="gen3d: text or image to textured 3D assets (GLB, USDZ), or new paint for your own "
    "meshes; as a CLI, a service and a library.",
    no_args_is_help=True,
    add_completion=False,
    # Locals can hold prompts, paths and credentials: never print them in a traceback.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gen3d {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Set up settings (GEN3D_* environment variables) and logging for every subcommand."""
    if verbose and quiet:
        raise typer.BadParameter("--verbose and --quiet exclude each other")
    settings = load_settings()
    level = "DEBUG" if verbose else "WARNING" if quiet else settings.log_level
    configure_logging(level, rich=True)
    for line in unknown_variables():
        logger.warning(line)
    ctx.obj = settings


app.command("info")(info.info)
app.command("generate")(generate.generate_command)
app.command("texture")(texture.texture_command)
app.command("batch")(batch.batch_command)
app.command("serve")(serve.serve_command)
app.command("api-key")(serve.api_key_command)
app.command("worker")(worker.worker_command)
app.add_typer(dataset.app, name="dataset")
app.command("train-vae")(train_vae.train_vae_command)
app.command("train-dit")(train_dit.train_dit_command)
app.command("preview")(preview.preview_command)
app.command("eval")(evaluate.eval_command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors the user can fix end as one red line and a non-zero exit status."""
    try:
        app(args=argv, prog_name="gen3d")
    except Gen3DError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]")
        sys.exit(130)
