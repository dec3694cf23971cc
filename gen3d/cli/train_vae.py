"""``gen3d train-vae``: train a vecset VAE on a dataset built by ``gen3d dataset build``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import typer

from gen3d.errors import Gen3DError


class TrainError(Gen3DError):
    exit_code = 2


def reconstruction_validator(
    root: Path,
    shapes: int = 4,
    resolution: int = 64,
    out: Path | None = None,
    encoder_points: int = 2048,
) -> Any:
    """A validation callback: F-scores of meshes decoded from held-out shapes.

    Each of up to ``shapes`` validation shapes is encoded from its surface points, decoded
    and meshed at ``resolution``. Recall: the true surface points' distances to the decoded
    mesh. Precision: for procedural shapes, the exact |SDF| of the shape (regenerated from
    its category and seed) at points sampled on the decoded mesh; for ingested meshes, the
    distance to the nearest true surface point (which the points' spacing caps). The first
    shape's mesh is kept as a GLB snapshot under ``out/snapshots``.
    """
    import torch

    from gen3d.data import ShapeDataset
    from gen3d.data.procedural import generate_shape
    from gen3d.eval.metrics import (
        distance_to_points,
        distance_to_surface,
        f_score_from_distances,
        surface_samples,
    )
    from gen3d.mesh import FieldError, export_mesh, extract_dense, vertex_colours
    from vae.field import surface_colours_or_grey

    data = ShapeDataset(root, split="val", n_surface=None, n_near=1, n_volume=1, seed=0)
    if len(data) == 0:
        data = ShapeDataset(root, split="test", n_surface=None, n_near=1, n_volume=1, seed=0)
    items = [data[i] for i in range(min(shapes, len(data)))]
    margin = float(data.spec.get("margin", 0.1))
    exact = [
        generate_shape(e["category"], e["seed"], margin=margin)
        if e.get("source") == "procedural"
        else None
        for e in data.entries[: len(items)]
    ]

    def validate(model: Any, step: int) -> dict[str, float]:
        scores: dict[str, list[float]] = {"val_f_0.01": [], "val_f_0.02": []}
        for index, item in enumerate(items):
            surface = item["surface_points"]
            encoder = slice(0, encoder_points)
            device = next(model.parameters()).device
            colours = surface_colours_or_grey(
                item["surface_colours"][None, encoder], torch.tensor([item["has_colour"]])
            )
            latents = model.encode(
                surface[None, encoder].to(device),
                item["surface_normals"][None, encoder].to(device),
                colours.to(device),
            ).mode()
            field = model.decode(latents)[0]
            try:
                # Dense: early in training a field is far from a distance function, and the
                # hierarchical search's band test assumes one.
                mesh = extract_dense(field, resolution).mesh
            except FieldError:  # early in training the field may have no surface at all
                scores["val_f_0.01"].append(0.0)
                scores["val_f_0.02"].append(0.0)
                continue
            predicted, _ = surface_samples(mesh, 20_000)
            truth = surface.numpy().astype(np.float64)
            to_pred = distance_to_surface(truth, mesh)
            if exact[index] is not None:
                to_truth = np.abs(exact[index].sdf(predicted))
            else:
                to_truth = distance_to_points(predicted, truth)
            for tau in (0.01, 0.02):
                scores[f"val_f_{tau}"].append(f_score_from_distances(to_truth, to_pred, tau))
            if index == 0 and out is not None:
                (out / "snapshots").mkdir(parents=True, exist_ok=True)
                with torch.no_grad():
                    vertex_colours(field, mesh)
                export_mesh(
                    mesh,
                    out / "snapshots" / f"step-{step:07d}.glb",
                    metadata={"step": step, "shape": item["id"]},
                )
        return {k: float(np.mean(v)) if v else 0.0 for k, v in scores.items()}

    return validate


def train_vae_command(
    config: Path = typer.Option(
        ..., "--config", "-c", exists=True, dir_okay=False, help="Training config (.json or .yaml)."
    ),
    data: Path = typer.Option(..., "--data", "-d", help="Dataset folder (gen3d dataset build)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints, model, metrics."),
    batch_size: int = typer.Option(8, min=1, help="Shapes per step."),
    surface: int = typer.Option(4096, min=16, help="Surface points per shape and step."),
    near: int = typer.Option(2048, min=16, help="Near-surface samples per shape and step."),
    volume: int = typer.Option(1024, min=16, help="Volume samples per shape and step."),
    workers: int = typer.Option(1, min=0, help="DataLoader worker processes."),
    val_shapes: int = typer.Option(4, min=0, help="Validation shapes meshed at each check."),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="A saved VAE whose weights start the run (overrides the config's init_from).",
    ),
) -> None:
    """Train a shape VAE, vecset or triplane as the config's model_type says (resumes from
    OUT/checkpoints/last if it exists).

    \b
    Example:
      gen3d dataset build --procedural 200 --out data/shapes
      gen3d train-vae --config scripts/configs/vae-small.yaml --data data/shapes --out runs/vae
    """
    import torch

    from gen3d.data import ShapeDataset
    from vae.trainer import VAETrainConfig, train_vae

    try:
        train_config = VAETrainConfig.from_file(config)
        if init_from is not None:
            train_config = dataclasses.replace(train_config, init_from=str(init_from))
    except (ValueError, OSError) as error:
        raise TrainError(f"{config}: {error}") from error
    start = train_config.init_from
    if start and not (Path(start) / "config.json").is_file():
        raise TrainError(f"init_from {start} is not a saved VAE (no config.json)")
    dataset = ShapeDataset(data, split="train", n_surface=surface, n_near=near, n_volume=volume)
    if len(dataset) == 0:
        raise TrainError(f"{data} has no training shapes")
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=len(dataset) > batch_size,
    )
    validate = (
        reconstruction_validator(
            data, shapes=val_shapes, out=out, encoder_points=train_config.encoder_points
        )
        if val_shapes
        else None
    )
    train_vae(train_config, loader, out, validate=validate)
    typer.echo(f"model saved to {out / 'model'}; metrics in {out / 'metrics.jsonl'}")
