"""Reading how far a photo is turned from its object's upright edges."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gen3d.edge_tilt import edge_tilt
from gen3d.image_view import prepared_photo
from gen3d.images import cut_image


def shelf_photo(turned: float) -> Image.Image:
    """A brown bookshelf (two posts, three boards) on white, turned ``turned`` degrees
    counter-clockwise as a camera held askew would show it."""
    picture = Image.new("RGB", (400, 400), "white")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((130, 60, 270, 340), fill=(150, 100, 60))
    draw.rectangle((145, 75, 255, 325), fill=(210, 180, 140))  # the back, lighter
    for top in (140, 220):
        draw.rectangle((145, top, 255, top + 12), fill=(150, 100, 60))
    return picture.rotate(turned, resample=Image.Resampling.BICUBIC, fillcolor="white")


def read(picture: Image.Image):
    return edge_tilt(*prepared_photo(cut_image(picture), 384, 0.1))


@pytest.mark.parametrize("turned", [9.0, -12.5, 4.0])
def test_a_turned_shelf_reads_as_turned_by_its_roll(turned: float) -> None:
    tilt = read(shelf_photo(turned))
    assert abs(tilt.roll - turned) <= 0.5 and tilt.strength >= 2.5, tilt


def test_a_level_shelf_reads_level() -> None:
    tilt = read(shelf_photo(0.0))
    assert abs(tilt.roll) <= 0.5, tilt


def test_an_object_without_upright_edges_gives_no_reading() -> None:
    picture = Image.new("RGB", (300, 300), "white")
    ImageDraw.Draw(picture).ellipse((60, 60, 240, 240), fill=(200, 40, 40))
    tilt = read(picture.rotate(10.0, fillcolor="white"))
    assert tilt.strength < 1.5, tilt


def test_edges_leaning_beyond_the_range_give_no_reading() -> None:
    tilt = read(shelf_photo(35.0))
    assert tilt.roll == 0.0 and tilt.strength == 1.0, tilt


def test_a_white_object_reads_by_its_outline() -> None:
    """Only the mask shows a white box on white: its sides are the upright edges."""
    colours = torch.ones(200, 200, 3)
    mask = torch.from_numpy(_box_mask(8.0))
    tilt = edge_tilt(colours, mask)
    assert abs(tilt.roll - 8.0) <= 0.5 and tilt.strength >= 2.5, tilt


def _box_mask(turned: float) -> np.ndarray:
    mask = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(mask).rectangle((60, 30, 140, 170), fill=255)
    return np.asarray(mask.rotate(turned, resample=Image.Resampling.BILINEAR)) > 127


def test_edges_leaning_both_ways_alike_read_the_opposite_turn_as_high() -> None:
    """A level camera looking down at a cabinet sees its sides lean towards each other: the
    reading's opposite turn is as strong as its own, so no roll explains them."""
    picture = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(picture).polygon(
        [(110, 60), (290, 60), (250, 340), (150, 340)], fill=(120, 80, 40)
    )
    tilt = read(picture)
    assert abs(abs(tilt.roll) - 8.1) <= 1.5 and tilt.mirrored >= 0.9 * tilt.strength, tilt
    turned = read(shelf_photo(9.0))
    assert turned.mirrored < 1.0 < turned.strength, turned
