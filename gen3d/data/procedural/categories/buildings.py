"""Buildings: house, tower, lighthouse. Y is up, the front door faces +Z."""

from __future__ import annotations

import math

from ..design import Design
from ..registry import register_category
from ..sdf import SDF, Box, Cone, Cylinder, Difference, Intersection, Sphere
from .common import size_word


def _gable_roof(half_width: float, half_depth: float, base_y: float) -> SDF:
    """A 45-degree gable roof over a footprint, its ridge along Z, its eaves at ``base_y``."""
    side = half_width / math.sqrt(2.0)
    prism = Box((side, side, half_depth)).rotate("z", 45).translate(0, base_y, 0)
    above = Box((half_width * 2, half_width, half_depth * 2)).translate(0, base_y + half_width, 0)
    return Intersection(prism, above)


@register_category("house")
def house(d: Design) -> None:
    d.material(["wooden", "brick", "stone"])
    colour = d.colour()
    width, depth = d.uniform(2.0, 3.5), d.uniform(1.8, 3.0)
    storeys = d.choice([1, 1, 2])
    wall_h = 1.3 * storeys + d.uniform(0.0, 0.4)
    d.add("walls", Box((width / 2, wall_h / 2, depth / 2)).translate(0, wall_h / 2, 0), colour)
    roof = d.colour(["red", "brown", "grey", "black", "blue", "green"], avoid=[colour])
    overhang = 0.15
    flat = d.chance(0.2)
    if flat:
        d.add(
            "roof",
            Box((width / 2 + overhang, 0.08, depth / 2 + overhang)).translate(0, wall_h + 0.08, 0),
            roof,
        )
        d.feature(f"a flat {roof} roof")
    else:
        d.add("roof", _gable_roof(width / 2 + overhang, depth / 2 + overhang, wall_h), roof)
        d.feature(f"a pointed {roof} roof")
    door = d.colour(["brown", "red", "blue", "green", "black", "white", "yellow"], avoid=[colour])
    door_w, door_h = 0.45, min(1.0, wall_h * 0.6)
    door_x = d.uniform(-width / 4, width / 4)
    d.add(
        "door", Box((door_w / 2, door_h / 2, 0.04)).translate(door_x, door_h / 2, depth / 2), door
    )
    window = d.colour(["blue", "white", "teal"], avoid=[colour, door])
    slots = [(x, 0.9 + 1.3 * s) for s in range(storeys) for x in (-width / 3, width / 3)]
    slots = [(x, y) for x, y in slots if abs(x - door_x) > 0.55 or y > door_h + 0.3]
    for x, y in slots:
        d.add("window", Box((0.22, 0.22, 0.04)).translate(x, y, depth / 2), window)
    if not flat and d.chance(0.5):
        d.add(
            "chimney",
            Box((0.15, 0.5, 0.15)).translate(-width / 4, wall_h + width / 4, 0),
            "grey" if roof != "grey" else "black",
        )
        d.feature("a chimney")
    d.describe(colour, "two-storey" if storeys == 2 else "small" if width < 2.6 else None)
    d.feature(f"a {door} door")
    d.count("window", len(slots), "{n} windows", singular="one window")
    top = wall_h + (0.16 if flat else width / 2 + overhang)
    d.outside(width / 2 - 0.05, top + 0.05, 0.0)  # above the roof, off the ridge
    d.outside(width / 2 + overhang + 0.3, wall_h * 0.5, 0.0)
    d.param(width=width, depth=depth, storeys=storeys, flat_roof=flat)


@register_category("tower", synonyms=["turret"])
def tower(d: Design) -> None:
    d.material(["stone", "brick", "wooden"])
    colour = d.colour()
    radius = d.uniform(0.8, 1.3)
    height = radius * d.uniform(3.0, 6.0)
    d.add("body", Cylinder(radius, height / 2).translate(0, height / 2, 0), colour)
    d.add(
        "door",
        Box((0.3, 0.5, 0.06)).translate(0, 0.5, radius - 0.02),
        d.colour(["brown", "black"], avoid=[colour]),
    )
    pointed = d.chance(0.5)
    if pointed:
        roof = d.colour(["red", "blue", "grey", "black", "green"], avoid=[colour])
        roof_h = radius * d.uniform(1.2, 2.2)
        d.add(
            "roof", Cone(radius * 1.2, 0.02, roof_h / 2).translate(0, height + roof_h / 2, 0), roof
        )
        d.feature(f"a pointed {roof} roof")
        d.outside(radius * 1.5, height * 0.5, 0.0)
    else:
        n = d.integer(6, 10)
        merlon_h = radius * 0.35
        for i in range(n):
            angle = 2 * math.pi * i / n
            merlon = (
                Box((radius * 0.16, merlon_h / 2, radius * 0.2))
                .rotate("y", -math.degrees(angle))
                .translate(
                    radius * 0.85 * math.cos(angle),
                    height + merlon_h / 2,
                    radius * 0.85 * math.sin(angle),
                )
            )
            d.add("merlon", merlon, colour)
        d.count("merlon", n, "{n} battlements")
        d.outside(0.0, height + merlon_h * 0.5, 0.0)  # the open platform on top
        gap = math.pi / n  # between two merlons
        d.outside(
            radius * 0.85 * math.cos(gap), height + merlon_h * 0.5, radius * 0.85 * math.sin(gap)
        )
    d.describe(colour, size_word(height / radius, 4.0, 5.0, "squat", "tall"), "round")
    d.param(radius=radius, height=height, pointed=pointed)


@register_category("lighthouse")
def lighthouse(d: Design) -> None:
    colour = d.colour(["red", "blue", "black", "green"])
    other = "white"
    bottom_r, height = d.uniform(0.8, 1.2), d.uniform(4.0, 6.5)
    top_r = bottom_r * d.uniform(0.55, 0.75)
    n = d.integer(3, 6)
    step = height / n
    for i in range(n):
        r0 = bottom_r + (top_r - bottom_r) * i / n
        r1 = bottom_r + (top_r - bottom_r) * (i + 1) / n
        d.add(
            "stripe",
            Cone(r0, r1, step / 2).translate(0, step * (i + 0.5), 0),
            colour if i % 2 == 0 else other,
        )
    gallery_r = top_r * 1.4
    d.add("gallery", Cylinder(gallery_r, 0.08).translate(0, height + 0.08, 0), "black")
    lantern_r, lantern_h = top_r * 0.7, d.uniform(0.6, 0.9)
    light = d.colour(["yellow", "white"])
    d.add(
        "lantern",
        Cylinder(lantern_r, lantern_h / 2).translate(0, height + 0.16 + lantern_h / 2, 0),
        light,
    )
    dome_y = height + 0.16 + lantern_h
    dome = Difference(Sphere(lantern_r * 1.1), Box((5.0, 5.0, 5.0)).translate(0, -5.0, 0))
    d.add("dome", dome.translate(0, dome_y, 0), colour)
    d.describe(colour, size_word(height / bottom_r, 5.0, 6.5, "stout", "tall"))
    d.count("stripe", n, "{n} " + colour + " and white stripes")
    d.feature(f"a {light} lantern")
    d.outside((gallery_r + lantern_r) / 2, height + 0.16 + lantern_h * 0.5, 0.0)
    d.outside(bottom_r * 1.02, height * 0.5, 0.0)  # the tower tapers inwards
    d.param(height=height, stripes=n)
