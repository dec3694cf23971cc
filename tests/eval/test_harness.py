"""`gen3d eval` end to end on a small held-out set and the tiny pipeline (mechanics: every
number is produced and in range), plus a check of the reconstruction score itself."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from gen3d.data import BuildSpec, SamplingConfig, build_dataset
from gen3d.data.procedural import ProceduralShape, generate_shape
from gen3d.data.procedural.palette import COLOURS
from gen3d.data.sampling import surface_samples
from gen3d.eval.classifier import train_classifier
from gen3d.eval.colour import shown_colours
from gen3d.eval.harness import (
    HeldOut,
    evaluate_image,
    evaluate_text,
    evaluate_vae,
    shape_scores,
)
from gen3d.mesh import extract_hierarchical, vertex_colours

CATEGORIES = ("mug", "table")


@pytest.fixture(scope="module")
def held_out_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "shapes"
    sampling = SamplingConfig(n_surface=3000, n_near=200, n_volume=100, grid_resolution=64)
    spec = BuildSpec(
        source="procedural", count=8, categories=CATEGORIES, sampling=sampling, split=(0.25, 0.0)
    )
    build_dataset(spec, root)
    return root


def test_a_shape_scores_perfectly_against_itself(held_out_data: Path) -> None:
    held = HeldOut.load(held_out_data, limit=1)
    mesh = extract_hierarchical(held.shapes[0], 128).mesh
    scores = shape_scores(mesh, held.surface[0], held.normals[0], held.shapes[0])
    assert scores["f@0.02"] > 0.97 and scores["chamfer_l1"] < 0.01
    assert scores["normal_consistency"] > 0.9
    moved = mesh.copy()
    moved.apply_translation((0.1, 0, 0))  # faces across x move 0.1; faces along x stay close
    shifted = shape_scores(moved, held.surface[0], held.normals[0], held.shapes[0])
    assert shifted["f@0.02"] < scores["f@0.02"] - 0.3
    assert shifted["chamfer_l1"] > 3 * scores["chamfer_l1"]


def test_parts_found_notices_missing_legs_that_the_f_score_forgives() -> None:
    """A four-legged table meshed without its legs keeps most of its area, so F@0.05 stays
    high; ``parts_found`` says four of its five parts are missing."""
    table = generate_shape("table", 900000)
    assert [part.name for part in table.parts].count("leg") == 4
    surface, normals = table_surface(table)
    whole = shape_scores(extract_hierarchical(table, 128).mesh, surface, normals, table)
    assert whole["parts_found"] == 1.0
    legless = dataclasses.replace(
        table, parts=tuple(part for part in table.parts if part.name != "leg")
    )
    top_only = shape_scores(extract_hierarchical(legless, 128).mesh, surface, normals, table)
    assert top_only["f@0.05"] > 0.85  # 0.92: the legs are a small share of the area
    assert top_only["parts_found"] == pytest.approx(1 / 5)


def table_surface(shape: ProceduralShape) -> tuple[np.ndarray, np.ndarray]:
    """Surface points and normals of a procedural shape, as a dataset stores them."""
    points, normals, _ = surface_samples(shape, 8000)
    return points.astype(np.float64), normals.astype(np.float64)


def test_every_part_of_the_harness_runs(held_out_data: Path, tiny_pipeline) -> None:
    held = HeldOut.load(held_out_data)
    assert set(held.categories) <= set(CATEGORIES) and len(held.ids) >= 4
    vae = evaluate_vae(tiny_pipeline.vae, held, resolution=48)
    assert vae["shapes"] == len(held.ids)
    assert 0.0 <= vae["f@0.02"] <= 1.0 and vae["chamfer_l1"] > 0
    assert 0.0 <= vae["parts_found"] <= 1.0

    clouds = np.asarray([cloud[:1500] for cloud in held.surface], dtype=np.float32)
    classifier = train_classifier(clouds, held.categories, epochs=2, width=16, batch_size=4)
    fast = {"steps": 2, "texture_size": 0}
    text = evaluate_text(tiny_pipeline, held, classifier, per_category=2, options=fast)
    assert 0.0 <= text.category_accuracy <= 1.0
    assert text.colour_accuracy is None or 0.0 <= text.colour_accuracy <= 1.0
    for row in text.per_category.values():
        assert {"accuracy", "cov", "mmd", "1-nna"} <= set(row)

    image = evaluate_image(tiny_pipeline, held, shapes=2, options=fast)
    assert image["shapes"] == 2 and 0.0 <= image["f@0.05"] <= 1.0
    assert 0.0 <= image["parts_found"] <= 1.0 and 0.0 <= image["parts_found_yaw_aligned"] <= 1.0
    # turning can only bring a shape closer (no turn is one of the candidates), give or take
    # the subsampled search
    assert image["f@0.05_yaw_aligned"] >= image["f@0.05"] - 0.02
    anywhere = evaluate_image(tiny_pipeline, held, shapes=1, options=fast, views="random")
    assert anywhere["shapes"] == 1 and 0.0 <= anywhere["f@0.05"] <= 1.0
    with pytest.raises(ValueError, match="views must be one of"):
        evaluate_image(tiny_pipeline, held, shapes=1, options=fast, views="above")


def test_a_sample_without_surface_is_a_miss_not_a_crash(held_out_data: Path) -> None:
    """A generated field with no surface (it happens for some seeds) counts against the model
    and is reported; the rest of the run goes on."""
    from gen3d.pipeline import EmptyShapeError

    held = HeldOut.load(held_out_data)
    exact = {caption: shape for caption, shape in zip(held.captions, held.shapes, strict=True)}

    class Perfect:  # meshes the held-out shape itself for even seeds, nothing for odd ones
        def __call__(self, prompt: str, seed: int, **options: object):
            if seed % 2:
                raise EmptyShapeError("the field has no surface")
            mesh = extract_hierarchical(exact[prompt], 64).mesh
            return type("Asset", (), {"mesh": mesh})()

    cloud = np.asarray([c[:1500] for c in held.surface], dtype=np.float32)
    classifier = train_classifier(cloud, held.categories, epochs=30, width=16, batch_size=4)
    text = evaluate_text(Perfect(), held, classifier, per_category=2)
    asked = sum(min(2, len(i)) for i in held.by_category().values())
    assert text.empty == (asked + 1) // 2
    assert text.category_accuracy <= 1 - text.empty / asked


def test_eval_command_writes_a_report(
    clean_env, held_out_data: Path, tiny_pipeline_path, run_cli, tmp_path
) -> None:
    report = tmp_path / "eval.json"
    code, err = run_cli(
        "eval",
        "--data",
        str(held_out_data),
        "--model",
        str(tiny_pipeline_path),
        "--parts",
        "vae,image",
        "--shapes",
        "2",
        "--image-shapes",
        "1",
        "--steps",
        "2",
        "--texture-size",
        "0",
        "--resolution",
        "48",
        "--out",
        str(report),
    )
    assert code == 0, err
    data = json.loads(report.read_text())
    assert data["vae"]["shapes"] == 2 and data["image"]["shapes"] == 1
    assert data["resolution"] == 48  # every part meshed on the grid asked for
    assert data["field_dtype"] in ("float32", "bfloat16")  # the precision of those queries
    code, err = run_cli("eval", "--data", str(held_out_data), "--parts", "vae,colour")
    assert code == 2 and "--parts takes" in err


class _OracleVAE:
    """Decodes every shape to a fixed field: how the colour score is checked by hand."""

    def __init__(self, field) -> None:
        import torch

        self.field, self.anchor = field, torch.zeros(1)

    def parameters(self):
        return iter([self.anchor])

    def encode(self, points, normals, colours=None):
        return type("Posterior", (), {"mode": lambda _: points})()

    def decode(self, latents):
        return [self.field]


class _Repainted:
    """A procedural shape's exact SDF, painted one colour."""

    def __init__(self, shape, rgb: tuple[float, float, float]) -> None:
        self.shape, self.rgb = shape, np.asarray(rgb, dtype=np.float32)

    def sdf(self, xyz):
        return self.shape.sdf(xyz)

    def colour(self, xyz):
        return np.broadcast_to(self.rgb, (len(xyz), 3))

    def query(self, xyz):
        return self.sdf(xyz), self.colour(xyz)


def test_vae_colour_error_is_zero_for_the_true_colours_and_measures_a_wrong_one(
    held_out_data: Path,
) -> None:
    held = HeldOut.load(held_out_data, limit=1)
    assert held.coloured[0]
    exact = evaluate_vae(_OracleVAE(held.shapes[0]), held, resolution=48)
    assert exact["colour_l1"] < 0.01 and exact["f@0.02"] > 0.9
    grey = evaluate_vae(
        _OracleVAE(_Repainted(held.shapes[0], (0.5, 0.5, 0.5))), held, resolution=48
    )
    assert grey["colour_l1"] == pytest.approx(np.abs(held.colours[0] - 0.5).mean(), rel=1e-4)
    assert grey["colour_l1"] > 0.05


def test_vae_colour_accuracy_asks_whether_the_named_colour_survives(held_out_data: Path) -> None:
    held = HeldOut.load(held_out_data, limit=1)
    truth = extract_hierarchical(held.shapes[0], 64).mesh
    assert vertex_colours(held.shapes[0], truth)
    word = shown_colours(truth)[0]
    held.captions[0] = f"a {word} mug"
    exact = evaluate_vae(_OracleVAE(held.shapes[0]), held, resolution=48)
    assert exact["colour_accuracy"] == 1.0

    other = next(name for name in COLOURS if name not in shown_colours(truth))
    repainted = _OracleVAE(_Repainted(held.shapes[0], COLOURS[other]))
    assert evaluate_vae(repainted, held, resolution=48)["colour_accuracy"] == 0.0

    held.captions[0] = "a mug"  # names no colour: nothing to count
    assert evaluate_vae(repainted, held, resolution=48)["colour_accuracy"] is None
