"""Every procedural category: signs, bounds, colours, captions and determinism."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from gen3d.data.procedural import (
    ProceduralShape,
    UnknownCategoryError,
    generate_shape,
    list_categories,
    register_category,
)
from gen3d.data.procedural.palette import COLOURS, nearest_colour_word

CATEGORIES = list_categories()
SEEDS = range(4)
MARGIN = 0.1
#: Every part is at least this deep inside somewhere (unit-cube units): about 1.5 voxels of a
#: 128^3 grid, so meshing and SDF sampling see it. Measured on a 32^3 grid, which underestimates.
MIN_PART_DEPTH = 0.012


def _shape(category: str, seed: int) -> ProceduralShape:
    return generate_shape(category, seed, margin=MARGIN)


def _interior_point(part_sdf, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, float]:
    """The deepest point of a part on a grid over its bounding box."""
    axes = [np.linspace(a, b, 32) for a, b in zip(lo, hi, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    d = part_sdf(grid)
    return grid[np.argmin(d)], float(d.min())


def _cube_boundary(n: int = 21) -> np.ndarray:
    t = np.linspace(-1, 1, n)
    a, b = (x.ravel() for x in np.meshgrid(t, t))
    faces = []
    for axis in range(3):
        for side in (-1.0, 1.0):
            f = np.zeros((a.size, 3))
            f[:, axis] = side
            f[:, (axis + 1) % 3], f[:, (axis + 2) % 3] = a, b
            faces.append(f)
    return np.concatenate(faces)


def test_the_library_has_at_least_24_categories() -> None:
    assert len(CATEGORIES) >= 24, CATEGORIES


@pytest.mark.parametrize("category", CATEGORIES)
def test_inside_and_outside_points_have_the_right_sign(category: str) -> None:
    for seed in SEEDS:
        shape = _shape(category, seed)
        for part in shape.parts:
            point, depth = _interior_point(part.sdf, *part.sdf.bounds())
            assert depth < -MIN_PART_DEPTH, f"{category}/{seed}: {part.name!r} is too thin"
            assert shape.sdf(point[None])[0] < 0
        # Points the design leaves empty (cavities, gaps between legs) are outside.
        assert len(shape.outside_points) > 0
        d = shape.sdf(shape.outside_points)
        assert np.all(d > 0), f"{category}/{seed}: {shape.outside_points[d <= 0]} not empty"
        # Nothing reaches the faces of the cube.
        assert np.all(shape.sdf(_cube_boundary()) > 0.5 * MARGIN)


@pytest.mark.parametrize("category", CATEGORIES)
def test_shape_fills_the_unit_cube_with_a_margin_centred(category: str) -> None:
    for seed in SEEDS:
        lo, hi = _shape(category, seed).bounds()
        assert np.all(lo >= -1 + MARGIN - 1e-9) and np.all(hi <= 1 - MARGIN + 1e-9)
        assert np.max(hi - lo) == pytest.approx(2 * (1 - MARGIN))
        np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-9)


@pytest.mark.parametrize("category", CATEGORIES)
def test_captions_agree_with_attributes_and_parts(category: str) -> None:
    colour_pattern = re.compile(r"\b(" + "|".join(COLOURS) + r")\b")
    for seed in SEEDS:
        shape = _shape(category, seed)
        part_colours = {part.colour for part in shape.parts}
        # Each part's colour is nearest its own word, whatever the jitter.
        assert all(nearest_colour_word(p.rgb) == p.colour for p in shape.parts)
        assert len(set(shape.captions)) == len(shape.captions) >= 3
        for caption in shape.captions:
            assert shape.attributes["colour"] in caption
            named_colours = set(colour_pattern.findall(caption))
            assert named_colours <= part_colours, (caption, part_colours)
        names = [part.name for part in shape.parts]
        for part_name, n in shape.attributes["counts"].items():
            assert names.count(part_name) == n
        for feature in shape.attributes["features"]:
            assert feature in shape.caption


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_seed_same_shape_other_seed_other_shape(category: str) -> None:
    points = np.random.default_rng(0).uniform(-1, 1, size=(2000, 3))
    a, b = _shape(category, 7), _shape(category, 7)
    assert a.captions == b.captions and a.attributes == b.attributes
    np.testing.assert_array_equal(a.sdf(points), b.sdf(points))
    others = [_shape(category, s).sdf(points) for s in (8, 9)]
    assert not all(np.allclose(a.sdf(points), o) for o in others)


@pytest.mark.parametrize("category", CATEGORIES)
def test_torch_field_matches_numpy_and_colours_come_from_parts(category: str) -> None:
    shape = _shape(category, 1)
    points = np.random.default_rng(1).uniform(-1, 1, size=(4, 500, 3))
    d_np, rgb_np = shape.query(points)
    d_t, rgb_t = shape.query(torch.tensor(points, dtype=torch.float32))
    assert d_t.shape == (4, 500) and rgb_t.shape == (4, 500, 3)
    np.testing.assert_allclose(d_t.numpy(), d_np, atol=1e-5)
    part_rgbs = {part.rgb for part in shape.parts}
    assert {tuple(c) for c in rgb_np.reshape(-1, 3)} <= part_rgbs


def test_colour_field_is_the_colour_of_the_nearest_part() -> None:
    from gen3d.data.procedural.design import Design
    from gen3d.data.procedural.sdf import Sphere

    design = Design(np.random.default_rng(0), "blob")
    design.add("left", Sphere(0.3).translate(-0.5, 0, 0), "red")
    design.add("right", Sphere(0.3).translate(0.5, 0, 0), "blue")
    design.describe("red")
    design.outside(0, 0, 0)
    shape = design.finish("blob", 0, margin=0.1, n_captions=3)
    rgb = shape.colour(np.array([[-0.9, 0.0, 0.0], [0.9, 0.0, 0.0], [-0.1, 0.5, 0.0]]))
    assert [nearest_colour_word(c) for c in rgb] == ["red", "blue", "red"]


def test_unknown_category_names_the_choices() -> None:
    with pytest.raises(UnknownCategoryError, match=r"unknown shape category 'spaceship'.*chair"):
        generate_shape("spaceship", 0)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_shape("chair", -1)
    with pytest.raises(ValueError, match="margin"):
        generate_shape("chair", 0, margin=1.5)
    with pytest.raises(ValueError, match="already registered"):
        register_category("chair")(lambda d: None)
