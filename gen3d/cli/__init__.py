"""The ``gen3d`` command line (Typer). ``main`` is the console script's entry point."""

from gen3d.cli.app import app, main

__all__ = ["app", "main"]
