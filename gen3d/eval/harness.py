"""``gen3d eval``: the default model's numbers, on held-out procedural shapes and captions.

Three parts, each usable alone:

- ``evaluate_vae``: reconstruction of held-out shapes (encode surface points, decode, mesh):
  Chamfer-L1, F-score at 0.01, 0.02 and 0.05, normal consistency, meshed at generation's
  default grid resolution. Precision uses the shape's exact SDF (procedural shapes are known
  exactly), recall the true surface points' distances to the decoded mesh, as in training's
  validation.
- ``evaluate_text``: per category, prompts are the canonical captions of held-out shapes;
  category accuracy (the shipped point-cloud classifier), colour accuracy (the named colour
  covers at least a tenth of the surface), and COV / MMD / 1-NNA against the held-out shapes
  of that category.
- ``evaluate_image``: held-out shapes rendered from the reference view (or, with
  ``views="random"``, each from a random view, as users' photos are) are the inputs; F-score
  at 0.05 (and 0.02) of each generated shape against the shape that was rendered, as
  generated and after the turn about the up axis that fits it best (``best_yaw``: a photo
  does not say which way the model should face the shape).

All work on CPU; counts are arguments so that a quick look and the README's table use the
same code.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from gen3d.data import ShapeDataset
from gen3d.data.procedural import ProceduralShape, generate_shape
from gen3d.data.renders import random_view, reference_render
from gen3d.eval.classifier import PointCloudClassifier
from gen3d.eval.colour import named_colour, shown_colours
from gen3d.eval.generation import generation_scores
from gen3d.eval.metrics import (
    best_yaw,
    distance_to_points,
    distance_to_surface,
    f_score_from_distances,
    normal_consistency,
    parts_found,
    rotate_yaw,
    surface_samples,
)
from vae.field import UNCOLOURED, with_query_dtype

log = logging.getLogger(__name__)

CLOUD_POINTS = 2048
#: how close to a generated mesh a part's surface must be for ``parts_found``
PART_TAU = 0.05
Progress = Callable[[str, int, int], None]  # (part, done, total)


@dataclass
class HeldOut:
    """Held-out shapes of a dataset: stored surface samples plus the exact procedural shape."""

    ids: list[str]
    categories: list[str]
    captions: list[str]
    surface: list[np.ndarray]
    normals: list[np.ndarray]
    shapes: list[ProceduralShape | None]
    # The encoder's colour input: surface RGB, or mid grey for an uncoloured shape.
    colours: list[np.ndarray]
    coloured: list[bool]  # whether the shape has colours (else ``colours`` is grey filler)

    @classmethod
    def load(cls, root: str | Path, split: str = "test", limit: int | None = None) -> HeldOut:
        data = ShapeDataset(root, split=split, n_surface=None, n_near=1, n_volume=1, seed=0)
        if len(data) == 0:
            raise ValueError(f"{root}: the {split} split is empty")
        count = len(data) if limit is None else min(limit, len(data))
        margin = float(data.spec.get("margin", 0.1))
        held = cls([], [], [], [], [], [], [], [])
        for index in range(count):
            item, entry = data[index], data.entries[index]
            held.ids.append(item["id"])
            held.categories.append(item["category"])
            held.captions.append((entry.get("captions") or [""])[0])
            held.surface.append(item["surface_points"].numpy().astype(np.float64))
            held.normals.append(item["surface_normals"].numpy().astype(np.float64))
            colours = item["surface_colours"].numpy()
            held.coloured.append(bool(item["has_colour"]))
            held.colours.append(
                colours if item["has_colour"] else np.full_like(colours, UNCOLOURED)
            )
            procedural = entry.get("source") == "procedural"
            held.shapes.append(
                generate_shape(entry["category"], entry["seed"], margin=margin)
                if procedural
                else None
            )
        return held

    def head(self, count: int) -> HeldOut:
        """The first ``count`` shapes."""
        return HeldOut(
            *(
                column[:count]
                for column in (
                    self.ids,
                    self.categories,
                    self.captions,
                    self.surface,
                    self.normals,
                    self.shapes,
                    self.colours,
                    self.coloured,
                )
            )
        )

    def by_category(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = defaultdict(list)
        for index, category in enumerate(self.categories):
            groups[category].append(index)
        return dict(sorted(groups.items()))


def shape_scores(
    mesh: trimesh.Trimesh,
    surface: np.ndarray,
    normals: np.ndarray,
    exact: ProceduralShape | None,
    taus: tuple[float, ...] = (0.01, 0.02, 0.05),
    count: int = 20_000,
) -> dict[str, float]:
    """Chamfer-L1, F-scores and normal consistency of ``mesh`` against a held-out shape;
    for a procedural one also ``parts_found``, the share of its parts the mesh has (within
    0.05), which notices a missing leg that the area-weighted F-scores barely do."""
    predicted, predicted_normals = surface_samples(mesh, count)
    to_pred = distance_to_surface(surface, mesh)
    if exact is not None:
        to_truth = np.abs(np.asarray(exact.sdf(predicted), dtype=np.float64))
    else:
        to_truth = distance_to_points(predicted, surface)
    scores = {"chamfer_l1": float(0.5 * (to_truth.mean() + to_pred.mean()))}
    for tau in taus:
        scores[f"f@{tau}"] = f_score_from_distances(to_truth, to_pred, tau)
    scores["normal_consistency"] = normal_consistency(
        predicted, predicted_normals, surface, normals
    )
    if exact is not None:
        scores["parts_found"] = parts_found(exact.part_of(surface), to_pred, PART_TAU)
    return scores


def _generate(pipeline: Any, seed: int, options: dict[str, Any] | None, **inputs: Any) -> Any:
    """The generated mesh, or None when the sample had no surface (scored as a miss: a user
    would have got nothing for that seed)."""
    from gen3d.pipeline import EmptyShapeError

    try:
        mesh = pipeline(seed=seed, **inputs, **(options or {})).mesh
    except EmptyShapeError as error:
        log.warning("seed %d gave no surface: %s", seed, error)
        return None
    return mesh if len(mesh.faces) > 0 else None


def _mean(rows: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Per key, the mean over the rows that have a value (None where none has)."""
    keys = dict.fromkeys(key for row in rows for key in row)
    means: dict[str, float | None] = {}
    for key in keys:
        values = [row[key] for row in rows if row.get(key) is not None]
        means[key] = float(np.mean(values)) if values else None
    return means


def evaluate_vae(
    vae: Any,
    held: HeldOut,
    *,
    resolution: int | None = None,
    encoder_points: int = 2048,
    query_dtype: Any = None,
    progress: Progress | None = None,
) -> dict[str, float]:
    """Mean reconstruction scores of ``vae`` over the held-out shapes.

    Besides the geometry scores, ``colour_l1``: the mean absolute RGB error (0-1 scale) of
    the decoded field's colour at the true surface points of coloured shapes (None if none);
    and ``colour_accuracy``: over coloured shapes whose caption names a colour, the share
    whose reconstruction shows that colour, by text-to-3D's rule. Generation decodes through
    the same VAE, so this bounds text-to-3D's colour accuracy: it tells whether the VAE or
    the DiT holds colour back.

    ``resolution`` is the marching-cubes grid; by default the one ``generate`` uses, so that
    the score is what a user's meshes get (thin parts need the finer grid); likewise
    ``query_dtype``, the precision of the field's queries (a pipeline's ``field_dtype``;
    None: the VAE's own).
    """
    import torch

    from gen3d.mesh import FieldError, extract_hierarchical, vertex_colours
    from gen3d.pipeline import GenerationOptions

    resolution = resolution or GenerationOptions.resolution

    rows, colour_errors, colour_hits = [], [], []
    device = next(vae.parameters()).device
    for index in range(len(held.ids)):
        points = torch.as_tensor(held.surface[index][:encoder_points], dtype=torch.float32)
        normals = torch.as_tensor(held.normals[index][:encoder_points], dtype=torch.float32)
        colours = torch.as_tensor(held.colours[index][:encoder_points], dtype=torch.float32)
        with torch.no_grad():
            latents = vae.encode(
                points[None].to(device), normals[None].to(device), colours[None].to(device)
            ).mode()
            field = with_query_dtype(vae.decode(latents)[0], query_dtype)
            if held.coloured[index]:
                predicted = field.colour(held.surface[index])
                colour_errors.append(float(np.abs(predicted - held.colours[index]).mean()))
            try:
                mesh = extract_hierarchical(field, resolution).mesh
            except FieldError:
                mesh = None
        word = named_colour(held.captions[index]) if held.coloured[index] else None
        if word is not None:
            shown = mesh is not None and len(mesh.faces) > 0 and vertex_colours(field, mesh)
            colour_hits.append(bool(shown) and word in shown_colours(mesh))
        if mesh is None or len(mesh.faces) == 0:
            rows.append(
                {
                    "chamfer_l1": 1.0,
                    "f@0.01": 0.0,
                    "f@0.02": 0.0,
                    "f@0.05": 0.0,
                    "normal_consistency": 0.0,
                    "parts_found": None if held.shapes[index] is None else 0.0,
                }
            )
        else:
            rows.append(
                shape_scores(mesh, held.surface[index], held.normals[index], held.shapes[index])
            )
        if progress is not None:
            progress("vae", index + 1, len(held.ids))
    colour_l1 = float(np.mean(colour_errors)) if colour_errors else None
    colour_accuracy = float(np.mean(colour_hits)) if colour_hits else None
    return _mean(rows) | {
        "colour_l1": colour_l1,
        "colour_accuracy": colour_accuracy,
        "shapes": len(rows),
    }


@dataclass
class TextReport:
    category_accuracy: float
    colour_accuracy: float | None
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)
    empty: int = 0  # prompts whose sample had no surface (counted as misses)


def evaluate_text(
    pipeline: Any,
    held: HeldOut,
    classifier: PointCloudClassifier,
    *,
    per_category: int = 4,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> TextReport:
    """Generate from held-out captions, ``per_category`` prompts per category."""
    groups = held.by_category()
    jobs = [
        (category, index)
        for category, indices in groups.items()
        for index in indices[:per_category]
    ]
    generated: dict[str, list[np.ndarray]] = defaultdict(list)
    colour_hits, colour_total, empty = 0, 0, 0
    per: dict[str, dict[str, float]] = {}
    hits: dict[str, int] = defaultdict(int)
    for done, (category, index) in enumerate(jobs, start=1):
        prompt = held.captions[index] or f"a {category}"
        mesh = _generate(pipeline, done, options, prompt=prompt)
        word = named_colour(prompt)
        colour_total += word is not None
        if mesh is None:
            empty += 1
        else:
            predicted = classifier.classify_mesh(mesh)
            hits[category] += predicted == category
            points, _ = trimesh.sample.sample_surface(mesh, CLOUD_POINTS, seed=0)
            generated[category].append(np.asarray(points))
            if word is not None:
                colour_hits += word in shown_colours(mesh)
        if progress is not None:
            progress("text", done, len(jobs))
    for category, indices in groups.items():
        asked = min(per_category, len(indices))
        row: dict[str, float] = {"accuracy": hits[category] / asked if asked else 0.0}
        reference = [held.surface[i][:CLOUD_POINTS] for i in indices]
        if generated[category] and len(reference) >= 2:
            scores = generation_scores(generated[category], reference)
            row |= {"cov": scores.coverage, "mmd": scores.mmd, "1-nna": scores.one_nna}
        per[category] = row
    return TextReport(
        category_accuracy=sum(hits.values()) / len(jobs) if jobs else 0.0,
        colour_accuracy=colour_hits / colour_total if colour_total else None,
        per_category=per,
        empty=empty,
    )


#: where ``evaluate_image``'s renders are taken from
IMAGE_VIEWS = ("reference", "random")
#: what ``evaluate_image`` reports per shape (then their means)
IMAGE_SCORES = (
    "f@0.02",
    "f@0.05",
    "parts_found",
    "f@0.02_yaw_aligned",
    "f@0.05_yaw_aligned",
    "parts_found_yaw_aligned",
)


def image_scores(mesh: trimesh.Trimesh, held: HeldOut, index: int) -> dict[str, float | None]:
    """F-scores and parts found of ``mesh`` against held-out shape ``index``, as generated
    and turned about the up axis to fit it best."""
    surface, normals, exact = held.surface[index], held.normals[index], held.shapes[index]
    scores = shape_scores(mesh, surface, normals, exact, taus=(0.02, 0.05))
    yaw = best_yaw(surface_samples(mesh, 4000)[0], surface)
    if yaw != 0.0:  # else the turned mesh is the mesh itself
        turned = trimesh.Trimesh(rotate_yaw(mesh.vertices, yaw), mesh.faces, process=False)
        aligned = shape_scores(turned, surface, normals, exact, taus=(0.02, 0.05))
    else:
        aligned = scores
    names = ("f@0.02", "f@0.05", "parts_found")
    return {name: scores.get(name) for name in names} | {
        f"{name}_yaw_aligned": aligned.get(name) for name in names
    }


def evaluate_image(
    pipeline: Any,
    held: HeldOut,
    *,
    shapes: int = 16,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    views: str = "reference",
    seed: int = 0,
) -> dict[str, float]:
    """F-scores of shapes generated from renders of held-out shapes against those shapes.

    ``views``: ``"reference"`` renders each from the pipeline's reference view, ``"random"``
    each from its own random view (``seed``; any azimuth, elevation 0-45 degrees)."""
    if views not in IMAGE_VIEWS:
        raise ValueError(f"views must be one of {', '.join(IMAGE_VIEWS)}, not {views!r}")
    chosen = [i for i, shape in enumerate(held.shapes) if shape is not None][:shapes]
    rng = np.random.default_rng(seed)
    rows = []
    for done, index in enumerate(chosen, start=1):
        view = tuple(pipeline.config.reference_view)
        if views == "random":
            view = random_view(rng)
        image = reference_render(held.shapes[index], view, 256)
        # Only the shape is scored: a model's default texture refinement would cost seconds
        # a shape for nothing.
        mesh = _generate(pipeline, done, {"refine_steps": 0, **(options or {})}, image=image)
        if mesh is None:
            rows.append({name: 0.0 for name in IMAGE_SCORES})
        else:
            rows.append(image_scores(mesh, held, index))
        if progress is not None:
            progress("image", done, len(chosen))
    return _mean(rows) | {"shapes": len(rows)}
