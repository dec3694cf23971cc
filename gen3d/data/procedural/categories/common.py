"""Helpers the category generators share: size words and repeated parts."""

from __future__ import annotations

from collections.abc import Iterable

from ..design import Design
from ..sdf import SDF, Box, Cylinder


def size_word(value: float, low: float, high: float, small: str, large: str) -> str | None:
    """``small`` below ``low``, ``large`` above ``high``, nothing in between."""
    if value < low:
        return small
    if value > high:
        return large
    return None


def leg(height: float, thickness: float, round_: bool) -> SDF:
    """A vertical leg standing on y = 0, centred on the Y axis."""
    if round_:
        return Cylinder(thickness, height / 2.0).translate(0.0, height / 2.0, 0.0)
    return Box((thickness, height / 2.0, thickness), rounding=thickness * 0.2).translate(
        0.0, height / 2.0, 0.0
    )


def add_legs(
    d: Design,
    positions: Iterable[tuple[float, float]],
    height: float,
    thickness: float,
    colour: str,
    round_: bool = True,
    name: str = "leg",
) -> int:
    """Add a leg standing at each (x, z); returns how many."""
    count = 0
    for x, z in positions:
        d.add(name, leg(height, thickness, round_).translate(x, 0.0, z), colour)
        count += 1
    return count


def corners(half_x: float, half_z: float) -> list[tuple[float, float]]:
    """The four (x, z) corners of a rectangle centred on the origin."""
    return [(sx * half_x, sz * half_z) for sx in (-1, 1) for sz in (-1, 1)]


def plank(half_x: float, half_y: float, half_z: float, rounding: float = 0.005) -> Box:
    return Box((half_x, half_y, half_z), rounding=rounding)
