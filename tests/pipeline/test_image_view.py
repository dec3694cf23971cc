"""The camera an input image is seen from: how a view is written, and the mesh it is
estimated on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from PIL import Image

from gen3d.image_view import ViewError, _simplified, parse_view, view_text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("auto", "auto"),
        (" Reference ", "reference"),
        ("210,15", (210.0, 15.0)),
        (" 210 , 15 ", (210.0, 15.0)),
        ("-30,-10", (330.0, -10.0)),
        ((400, 90), (40.0, 90.0)),
        ([12.5, 0], (12.5, 0.0)),
        ("210,15,-5", (210.0, 15.0, -5.0)),  # and the picture's roll
        ((10, 0, 90), (10.0, 0.0, 90.0)),
    ],
)
def test_views_read_as_words_or_azimuth_and_elevation(given, expected) -> None:
    view = parse_view(given)
    assert view == expected
    assert parse_view(view_text(view)) == view  # the text form reads back the same


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("front", "not one of auto, reference, or AZIMUTH,ELEVATION"),
        ("30", "not one of"),
        ("1,2,3,4", "not one of"),
        ("30,10,120", "roll 120 is out of range"),
        ("30,91", "elevation 91 is out of range"),
        ((math.nan, 10), "must be finite"),
        ((True, 10), "must be numbers"),
        (None, "not one of"),
    ],
)
def test_bad_views_say_what_a_view_is(given, message) -> None:
    with pytest.raises(ViewError, match=message):
        parse_view(given)


def test_a_big_textured_mesh_is_simplified_for_the_estimate_with_its_colours() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=5)  # 20480 faces
    # A texture red on its left half and blue on its right, addressed by u.
    texture = np.zeros((8, 8, 3), dtype=np.uint8)
    texture[:, :4] = (220, 20, 20)
    texture[:, 4:] = (20, 20, 220)
    uv = np.stack([(sphere.vertices[:, 0] > 0) * 0.75 + 0.125, np.full(len(sphere.vertices), 0.5)])
    sphere.visual = trimesh.visual.TextureVisuals(uv=uv.T, image=Image.fromarray(texture))
    simple = _simplified(sphere, faces=2000)
    assert len(simple.faces) <= 2000
    colours = np.asarray(simple.visual.vertex_colors)[:, :3]
    right = simple.vertices[:, 0] > 0.05
    left = simple.vertices[:, 0] < -0.05
    assert (colours[right] == (20, 20, 220)).all() and (colours[left] == (220, 20, 20)).all()
    assert _simplified(sphere, faces=50_000) is sphere  # small enough already
