"""Tools, weapons and small props: sword, axe, hammer, key, ring. They stand upright (+Y)."""

from __future__ import annotations

import math

from ..design import Design
from ..registry import register_category
from ..sdf import Box, Capsule, Cone, Cylinder, Intersection, Sphere, Torus, Union
from .common import size_word


@register_category("sword")
def sword(d: Design) -> None:
    d.material(["metal"])
    blade = d.colour(["grey", "white", "black"])
    grip = d.colour(["brown", "black", "red", "blue"], avoid=[blade])
    guard = d.colour(["yellow", "grey", "brown", "black"], avoid=[grip])
    grip_len, blade_len = d.uniform(0.6, 0.9), d.uniform(2.5, 4.0)
    width = d.uniform(0.12, 0.22)
    d.add("pommel", Sphere(0.1).translate(0, 0.1, 0), guard)
    d.add("grip", Cylinder(0.06, grip_len / 2).translate(0, 0.15 + grip_len / 2, 0), grip)
    guard_y = 0.15 + grip_len
    guard_w = width * d.uniform(2.5, 4.0)
    d.add("crossguard", Box((guard_w / 2, 0.05, 0.07), 0.02).translate(0, guard_y + 0.05, 0), guard)
    base = guard_y + 0.1
    thick = 0.06
    straight = Box((width / 2, blade_len / 2, thick)).translate(0, base + blade_len / 2, 0)
    # The point: a square turned 45 degrees whose top corner is the tip, over the full blade.
    tip = base + blade_len
    point = Box((width / math.sqrt(2), width / math.sqrt(2), thick)).rotate("z", 45)
    point = point.translate(0, tip - width, 0)
    shank = Box((width, blade_len, thick)).translate(0, tip - width - blade_len, 0)
    d.add("blade", Intersection(straight, Union(point, shank)), blade)
    d.describe(blade, size_word(blade_len, 3.0, 3.5, "short", "long"))
    d.feature(f"a {grip} grip")
    d.feature(f"a {guard} crossguard")
    d.outside(width * 1.5, base + blade_len * 0.5, 0.0)  # beside the blade
    d.outside(width * 0.45, tip - 0.01, 0.0)  # a cut-off corner of the tip
    d.param(blade_length=blade_len, width=width)


@register_category("axe")
def axe(d: Design) -> None:
    handle = d.colour(["brown", "beige", "black", "red"])
    head = d.colour(["grey", "black"], avoid=[handle])
    length = d.uniform(2.0, 3.0)
    d.add("handle", Capsule((0, 0.05, 0), (0, length, 0), 0.07), handle)
    head_y = length - 0.3
    head_h = d.uniform(0.35, 0.55)
    d.add("eye", Box((0.14, head_h / 2, 0.09), 0.02).translate(0, head_y, 0), head)
    n_blades = 2 if d.chance(0.3) else 1
    reach = d.uniform(0.5, 0.8)
    for side in (1, -1)[:n_blades]:
        # A wedge from the eye outwards whose edge is an arc of a big circle.
        edge_r = head_h * 1.2
        fan = Cylinder(edge_r, 0.04).rotate("x", 90).translate(side * (reach - edge_r), head_y, 0)
        slab = Box((reach / 2, head_h, 0.04)).translate(side * reach / 2, head_y, 0)
        d.add("blade", Intersection(fan, slab), head)
    d.describe(
        head,
        size_word(length, 2.3, 2.7, "short", "long"),
        kind="double-bladed" if n_blades == 2 else None,
    )
    d.count("blade", n_blades, "{n} blades", singular="a single blade")
    d.feature(f"a {handle} handle")
    d.outside(reach * 0.6, head_y - head_h * 1.5, 0.0)  # under the blade, beside the handle
    d.param(length=length, blades=n_blades)


@register_category("hammer")
def hammer(d: Design) -> None:
    handle = d.colour(["brown", "beige", "black", "red", "yellow", "orange"])
    head = d.colour(["grey", "black"], avoid=[handle])
    length = d.uniform(1.6, 2.4)
    d.add("handle", Cylinder(0.07, length / 2, 0.03).translate(0, length / 2, 0), handle)
    head_len, head_r = d.uniform(0.6, 0.9), d.uniform(0.12, 0.18)
    head_y = length + head_r - 0.05
    claw = d.chance(0.5)
    if claw:
        d.add(
            "head",
            Cylinder(head_r, head_len * 0.25).rotate("z", 90).translate(head_len * 0.25, head_y, 0),
            head,
        )
        # The claw: part of a ring curving down from the head's back end.
        ring = (
            Torus(head_len * 0.45, 0.05).rotate("x", 90).translate(0.0, head_y - head_len * 0.45, 0)
        )
        keep = Box((head_len * 0.5, head_len * 0.5, 0.2)).translate(-head_len * 0.5, head_y, 0)
        d.add("claw", Intersection(ring, keep), head)
        d.feature("a claw")
    else:
        d.add("head", Cylinder(head_r, head_len / 2).rotate("z", 90).translate(0, head_y, 0), head)
        d.feature("two flat faces")
    d.describe(head, size_word(length, 1.8, 2.2, "short", "long"))
    d.feature(f"a {handle} handle")
    d.outside(head_len * 0.4, length * 0.6, 0.0)  # beside the handle, below the head
    d.param(length=length, claw=claw)


@register_category("key")
def key(d: Design) -> None:
    d.material(["metal"])
    colour = d.colour(["yellow", "grey", "brown", "black"])
    shaft_len, bow_r = d.uniform(1.5, 2.5), d.uniform(0.35, 0.55)
    d.add("shaft", Cylinder(0.07, shaft_len / 2).translate(0, shaft_len / 2, 0), colour)
    bow_y = shaft_len + bow_r - 0.04
    d.add("bow", Torus(bow_r - 0.07, 0.07).rotate("x", 90).translate(0, bow_y, 0), colour)
    n_teeth = d.integer(1, 4)
    for i in range(n_teeth):
        depth = d.uniform(0.12, 0.3)
        y = 0.1 + i * 0.18
        d.add("tooth", Box((depth / 2, 0.06, 0.05)).translate(0.05 + depth / 2, y, 0), colour)
    d.describe(
        colour, size_word(shaft_len, 1.8, 2.2, "short", "long"), "round" if bow_r > 0.45 else None
    )
    d.count("tooth", n_teeth, "{n} teeth", singular="one tooth")
    d.outside(0.0, bow_y, 0.0)  # the hole of the bow
    d.outside(-0.3, shaft_len * 0.4, 0.0)  # the plain side of the shaft
    d.param(length=shaft_len, teeth=n_teeth)


@register_category("ring")
def ring(d: Design) -> None:
    d.material(["metal"])
    colour = d.colour(["yellow", "grey", "white", "black"])
    radius, band = d.uniform(0.8, 1.0), d.uniform(0.08, 0.18)
    d.add("band", Torus(radius, band).rotate("x", 90), colour)
    if d.chance(0.6):
        gem = d.colour(["red", "blue", "green", "purple", "white", "pink", "teal"], avoid=[colour])
        size = d.uniform(0.18, 0.3)
        top = radius + band
        d.add(
            "setting",
            Cone(size * 0.5, size * 0.9, size * 0.3).translate(0, top + size * 0.2, 0),
            colour,
        )
        d.add("gem", Sphere(size).translate(0, top + size * 0.6, 0), gem)
        d.feature(f"a {gem} gem")
    d.describe(colour, "thick" if band > 0.14 else "thin")
    d.outside(0.0, 0.0, 0.0)  # the hole
    d.param(radius=radius, band=band)
