"""``gen3d dataset``: build SDF training datasets from procedural shapes or mesh folders."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

app = typer.Typer(
    help="Build and inspect SDF training datasets.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _default_workers() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


@app.command("build")
def build(
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder (created; resumable)."),
    procedural: int = typer.Option(
        0, "--procedural", "-n", min=0, help="Number of procedural shapes to generate."
    ),
    meshes: Path | None = typer.Option(
        None,
        "--meshes",
        help="Folder of meshes (OBJ, PLY, STL, OFF, GLB, glTF), searched "
        "recursively; a subfolder's name is its meshes' category, NAME.txt their captions.",
    ),
    categories: str = typer.Option(
        "", help="Comma-separated procedural categories (default: all; see `dataset categories`)."
    ),
    workers: int = typer.Option(
        0, min=0, help="Worker processes (default: one per available core)."
    ),
    shard_size: int = typer.Option(16, min=1, help="Shapes per shard file."),
    surface: int = typer.Option(8192, min=1, help="Surface points per shape."),
    near: int = typer.Option(8192, min=1, help="Near-surface SDF samples per shape."),
    volume: int = typer.Option(4096, min=1, help="Uniform volume SDF samples per shape."),
    truncation: float | None = typer.Option(
        None, min=0.0, help="Clamp SDF values to [-T, T] (default: exact distances)."
    ),
    grid: int = typer.Option(
        128, min=16, max=512, help="Marching-cubes grid that locates procedural surfaces."
    ),
    margin: float = typer.Option(0.1, min=0.0, max=0.9, help="Empty border in the unit cube."),
    seed: int = typer.Option(0, min=0, help="First procedural seed; also seeds the sampling."),
) -> None:
    """Build a dataset of SDF samples (resumable: rerun the same command after a stop).

    \b
    Examples:
      gen3d dataset build --procedural 200 --out data/shapes
      gen3d dataset build --meshes ~/models --out data/mine --workers 2
    """
    from gen3d.data import BuildSpec, DatasetError, SamplingConfig, build_dataset
    from gen3d.data.shards import prepare_output, work_items

    if (procedural > 0) == (meshes is not None):
        raise DatasetError("give exactly one of --procedural N and --meshes FOLDER")
    try:
        sampling = SamplingConfig(
            n_surface=surface,
            n_near=near,
            n_volume=volume,
            truncation=truncation,
            grid_resolution=grid,
        )
    except ValueError as error:
        raise DatasetError(str(error)) from error
    spec = BuildSpec(
        source="procedural" if procedural else "meshes",
        count=procedural,
        mesh_folder=str(meshes.expanduser().resolve()) if meshes else None,
        categories=tuple(c.strip() for c in categories.split(",") if c.strip()),
        seed=seed,
        margin=margin,
        shard_size=shard_size,
        sampling=sampling,
    )
    work_items(spec)  # fail on a missing or empty mesh folder before anything is written
    prepare_output(spec, out)  # and on a folder that holds another build
    workers = workers or _default_workers()
    console = Console(stderr=True)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]building[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("shapes"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("build", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = build_dataset(spec, out, workers=workers, on_progress=on_progress)
        except KeyboardInterrupt:
            # Typer turns Ctrl-C into a silent exit; say what survived and how to go on.
            bar.stop()
            console.print(
                f"[yellow]interrupted[/]: finished shards are kept in {out}; "
                "run the same command again to resume"
            )
            raise typer.Exit(130) from None
    seconds = time.perf_counter() - started
    splits = ", ".join(f"{name} {n}" for name, n in report.splits.items())
    console.print(
        f"[green]done[/]: {report.shapes} shapes in {out} ({splits}); "
        f"{report.shards_built} shards built, {report.shards_skipped} already there; "
        f"{seconds:.1f} s"
    )
    if report.failures:
        console.print(
            f"[yellow]skipped {len(report.failures)} input(s)[/] "
            f"(all listed in {out / 'dataset.json'}):"
        )
        for failure in report.failures[:10]:
            console.print(f"  {failure['error']}", highlight=False)


@app.command("info")
def info(
    root: Path = typer.Argument(..., help="A dataset folder."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Summarise a dataset: shapes per split and category, samples per shape, failures."""
    from gen3d.data import DatasetError

    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise DatasetError(f"{root} is not a dataset folder (no dataset.json)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    categories: dict[str, int] = {}
    index = root / "index.jsonl"
    if index.is_file():
        for line in index.read_text(encoding="utf-8").splitlines():
            if line.strip():
                category = json.loads(line).get("category") or "(none)"
                categories[category] = categories.get(category, 0) + 1
    summary = {
        "source": meta["spec"]["source"],
        "shapes": meta.get("shapes"),
        "splits": meta.get("splits"),
        "sampling": meta["spec"]["sampling"],
        "categories": dict(sorted(categories.items())),
        "failures": len(meta.get("failures", [])),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    if summary["shapes"] is None:
        typer.echo(f"{root}: build not finished; rerun its build command to resume")
        return
    table = Table(title=str(root), show_header=False)
    for key in ("source", "shapes", "splits", "failures"):
        table.add_row(key, str(summary[key]))
    table.add_row("samples", ", ".join(f"{k}={v}" for k, v in summary["sampling"].items()))
    table.add_row("categories", ", ".join(f"{k} {v}" for k, v in summary["categories"].items()))
    Console().print(table)


@app.command("categories")
def categories() -> None:
    """List the procedural shape categories."""
    from gen3d.data.procedural import list_categories

    typer.echo("\n".join(list_categories()))
