"""COV, MMD, 1-NNA and colour naming on cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gen3d.eval.colour import colour_shares, named_colour, shown_colours
from gen3d.eval.generation import (
    chamfer_l1,
    chamfer_matrix,
    coverage,
    generation_scores,
    minimum_matching_distance,
    one_nn_accuracy,
)


def _cloud(offset: float, n: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)) * 0.01 + offset


def test_chamfer_l1_of_shifted_single_points() -> None:
    a, b = np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 0.3, 0.4]])
    assert chamfer_l1(a, b) == pytest.approx(0.5)
    assert chamfer_matrix([a, b], [b]) == pytest.approx(np.array([[0.5], [0.0]]))


def test_coverage_and_mmd_by_hand() -> None:
    # 2 generated x 3 reference: both generated shapes are closest to reference 0.
    cross = np.array([[0.1, 0.5, 0.9], [0.2, 0.6, 0.4]])
    assert coverage(cross) == pytest.approx(1 / 3)
    # per reference, the closest generated: 0.1, 0.5, 0.4 -> mean 1/3
    assert minimum_matching_distance(cross) == pytest.approx(1.0 / 3.0)


def test_one_nna_separated_sets_is_one_and_interleaved_is_half() -> None:
    generated = [_cloud(0.0, seed=i) for i in range(4)]
    far = [_cloud(5.0, seed=10 + i) for i in range(4)]
    apart = generation_scores(generated, far)
    assert apart.one_nna == 1.0 and apart.coverage == pytest.approx(0.25)
    # Interleaved on a line: each shape's nearest other belongs to the other set.
    gen = [_cloud(float(x)) for x in (0, 2, 4, 6)]
    ref = [_cloud(float(x)) for x in (1, 3, 5, 7)]
    mixed = generation_scores(gen, ref)
    assert mixed.one_nna <= 0.25 and mixed.coverage >= 0.75


def test_one_nna_leaves_each_shape_out() -> None:
    within = np.array([[0.0, 9.0], [9.0, 0.0]])
    cross = np.array([[1.0, 9.0], [9.0, 1.0]])
    # Each generated shape's nearest other is a reference one (1.0 < 9.0) and vice versa.
    assert one_nn_accuracy(within, within, cross) == 0.0


def test_generation_scores_refuse_too_few_shapes() -> None:
    with pytest.raises(ValueError, match="at least"):
        generation_scores([_cloud(0)], [_cloud(0)])


def test_colour_shares_of_a_two_colour_mesh() -> None:
    red = trimesh.creation.box(extents=(1, 1, 1))
    red.visual.vertex_colors = [204, 25, 25, 255]
    blue = trimesh.creation.box(extents=(1, 1, 3))  # a bigger part
    blue.apply_translation((3, 0, 0))
    blue.visual.vertex_colors = [38, 89, 217, 255]
    both = trimesh.util.concatenate([red, blue])
    shares = colour_shares(both)
    assert list(shares) == ["blue", "red"]
    # areas: red box 6, blue box 2 + 12 = 14: shares 0.3 and 0.7
    assert shares["red"] == pytest.approx(0.3, abs=0.03)
    assert shown_colours(both) == ["blue", "red"]
    assert shown_colours(both, min_share=0.5) == ["blue"]


def test_textured_meshes_are_named_by_their_texture() -> None:
    from PIL import Image

    box = trimesh.creation.box()
    uv = np.zeros((len(box.vertices), 2)) + 0.25
    texture = Image.new("RGB", (8, 8), (242, 217, 38))  # yellow
    box.visual = trimesh.visual.TextureVisuals(uv=uv, image=texture)
    assert shown_colours(box) == ["yellow"]


@pytest.mark.parametrize(
    ("prompt", "word"),
    [("a red wooden chair", "red"), ("A Teal, tall vase", "teal"), ("a chair", None)],
)
def test_named_colour(prompt: str, word: str | None) -> None:
    assert named_colour(prompt) == word


def test_pbr_textured_meshes_as_gen3d_writes_them() -> None:
    from PIL import Image

    from gen3d.mesh.texture import textured_mesh

    box = trimesh.creation.box()
    uv = np.zeros((len(box.vertices), 2)) + 0.5
    mesh = textured_mesh(box.vertices, box.faces, uv, Image.new("RGB", (8, 8), (38, 140, 140)))
    assert shown_colours(mesh) == ["teal"]
