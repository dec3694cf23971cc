"""Household objects: lamp, mug, cup, bottle, vase, bowl, kettle, plant pot.

Vessels are shells of solids with the top cut open, so their cavities are truly empty.
Units are roughly decimetres; Y is up.
"""

from __future__ import annotations

import math

import numpy as np

from ..design import Design
from ..registry import register_category
from ..sdf import (
    SDF,
    Box,
    Capsule,
    Cone,
    Cylinder,
    Difference,
    Intersection,
    SmoothUnion,
    Sphere,
    Torus,
)
from .common import size_word


def _open_top(solid: SDF, wall: float, rim_y: float) -> SDF:
    """A hollow vessel: the shell of ``solid`` with everything above ``rim_y`` removed.

    ``rim_y`` must lie at least ``wall`` below the solid's top, or the inner half of the top
    face's shell would survive as a film over the opening.
    """
    above = Box((50.0, 25.0, 50.0)).translate(0.0, rim_y + 25.0, 0.0)
    return Difference(solid.shell(wall / 2), above)


def _open_column(d: Design, y_from: float, y_to: float) -> None:
    """Mark the vessel's axis from ``y_from`` up through the opening as empty."""
    for y in np.linspace(y_from, y_to, 8):
        d.outside(0.0, float(y), 0.0)


def _side_handle(height: float, radius: float, x: float, y: float, thickness: float) -> SDF:
    """A half ring on the +X side of a vessel, in the XY plane."""
    ring = Torus(height / 2, thickness).rotate("x", 90).translate(x, y, 0.0)
    return Difference(ring, Box((radius, height, height)).translate(x - radius, y, 0.0))


@register_category("lamp", synonyms=["table lamp"])
def lamp(d: Design) -> None:
    d.material(["metal", "ceramic", "wooden"])
    colour = d.colour()
    shade_colour = d.colour(["white", "beige", "yellow", "red", "green", "blue"], avoid=[colour])
    pole_h = d.uniform(2.0, 6.0)
    base_r = d.uniform(0.8, 1.4)
    shade_h, shade_bottom = d.uniform(1.5, 2.5), d.uniform(1.4, 2.2)
    shade_top = shade_bottom * d.uniform(0.5, 0.95)
    d.add("base", Cylinder(base_r, 0.15, 0.05).translate(0, 0.15, 0), colour)
    d.add("pole", Cylinder(0.1, pole_h / 2).translate(0, 0.3 + pole_h / 2, 0), colour)
    shade_y = 0.3 + pole_h + shade_h * 0.2
    # Cut both caps off the shell a wall's width inside, so the shade is open at both ends.
    shade = Difference(
        Cone(shade_bottom, shade_top, shade_h / 2).shell(0.07),
        Cylinder(shade_top * 2, 5.0).translate(0, shade_h / 2 - 0.1 + 5.0, 0),
        Cylinder(shade_bottom * 2, 5.0).translate(0, -shade_h / 2 + 0.1 - 5.0, 0),
    ).translate(0, shade_y, 0)
    d.add("shade", shade, shade_colour)
    # The spider: a bar from the top of the pole to the shade's wall, along X.
    arm_y = shade_y - 0.2 * shade_h
    arm_r = shade_bottom + 0.3 * (shade_top - shade_bottom)
    d.add("spider", Capsule((-arm_r, arm_y, 0), (arm_r, arm_y, 0), 0.08), colour)
    d.describe(colour, size_word(pole_h, 3.0, 5.0, "short", "tall"))
    d.feature(f"a {shade_colour} lampshade")
    d.outside(0.0, shade_y - 0.35 * shade_h, shade_bottom * 0.6)  # inside the shade
    d.outside(0.0, shade_y + 0.5 * shade_h + 0.1, 0.0)  # above its open top
    d.outside(base_r * 0.9, 0.3 + pole_h * 0.5, 0.0)
    d.param(height=pole_h, shade_height=shade_h)


@register_category("mug")
def mug(d: Design) -> None:
    d.material(["ceramic", "metal", "plastic"])
    colour = d.colour()
    radius, height = d.uniform(0.35, 0.5), d.uniform(0.8, 1.2)
    wall = 0.06
    body = Cylinder(radius, height / 2, 0.03).translate(0, height / 2, 0)
    d.add("body", _open_top(body, wall, height - wall), colour)
    handle_colour = colour if d.chance(0.7) else d.colour(avoid=[colour])
    handle_h = height * d.uniform(0.45, 0.65)
    d.add("handle", _side_handle(handle_h, radius, radius, height * 0.5, 0.05), handle_colour)
    d.describe(colour, size_word(height / radius, 2.1, 2.9, "short", "tall"))
    d.feature("a handle" if handle_colour == colour else f"a {handle_colour} handle")
    _open_column(d, wall * 2, height + 0.2)  # the cavity, open at the top
    d.outside(radius + handle_h * 0.25, height * 0.5, 0.0)  # the hole of the handle
    d.param(radius=radius, height=height)


@register_category("cup", synonyms=["teacup"])
def cup(d: Design) -> None:
    d.material(["ceramic", "glass", "plastic"])
    colour = d.colour()
    top_r, height = d.uniform(0.4, 0.55), d.uniform(0.5, 0.8)
    bottom_r = top_r * d.uniform(0.55, 0.8)
    body = Cone(bottom_r, top_r, height / 2).translate(0, height / 2 + 0.05, 0)
    d.add("body", _open_top(body, 0.04, height + 0.05 - 0.04), colour)
    if d.chance(0.6):
        saucer = d.colour(avoid=[colour]) if d.chance(0.5) else colour
        d.add("saucer", Cylinder(top_r * 1.5, 0.025, 0.02).translate(0, 0.025, 0), saucer)
        d.feature("a saucer" if saucer == colour else f"a {saucer} saucer")
    if d.chance(0.6):
        h = height * 0.5
        d.add(
            "handle", _side_handle(h, top_r, (top_r + bottom_r) / 2, height * 0.55, 0.035), colour
        )
        d.feature("a small handle")
    d.describe(colour, size_word(top_r, 0.44, 0.5, "small", "wide"))
    _open_column(d, 0.15, height + 0.3)
    d.param(radius=top_r, height=height)


@register_category("bottle")
def bottle(d: Design) -> None:
    d.material(["glass", "plastic"])
    colour = d.colour()
    radius, body_h = d.uniform(0.3, 0.5), d.uniform(1.2, 2.2)
    neck_r, neck_h = radius * d.uniform(0.3, 0.45), d.uniform(0.3, 0.7)
    shoulder = d.uniform(0.2, 0.5)
    body = SmoothUnion(
        Cylinder(radius, body_h / 2, 0.08).translate(0, body_h / 2, 0),
        Cone(radius, neck_r, shoulder / 2).translate(0, body_h + shoulder / 2, 0),
        Cylinder(neck_r, neck_h / 2).translate(0, body_h + shoulder + neck_h / 2, 0),
        k=0.08,
    )
    d.add("body", body, colour)
    cap_colour = d.colour(["white", "black", "red", "blue", "yellow", "grey"], avoid=[colour])
    cap_y = body_h + shoulder + neck_h
    d.add("cap", Cylinder(neck_r * 1.15, 0.08, 0.02).translate(0, cap_y + 0.06, 0), cap_colour)
    if d.chance(0.5):
        label = d.colour(["white", "yellow", "red", "beige"], avoid=[colour, cap_colour])
        d.add("label", Cylinder(radius + 0.01, body_h * 0.2).translate(0, body_h * 0.45, 0), label)
        d.feature(f"a {label} label")
    d.describe(colour, size_word(body_h / radius, 3.5, 5.0, "stubby", "slender"))
    d.feature(f"a {cap_colour} cap")
    d.outside(radius * 0.9, cap_y, 0.0)  # beside the neck
    d.param(radius=radius, height=cap_y)


@register_category("vase")
def vase(d: Design) -> None:
    d.material(["ceramic", "glass", "stone"])
    colour = d.colour()
    belly_r = d.uniform(0.5, 0.8)
    belly_y = d.uniform(0.6, 1.2)
    neck_r, height = belly_r * d.uniform(0.35, 0.7), d.uniform(1.6, 2.8)
    solid = SmoothUnion(
        Sphere(belly_r).translate(0, belly_y, 0),
        Cylinder(belly_r * 0.6, 0.2).translate(0, 0.2, 0),
        Cylinder(neck_r, (height - belly_y) / 2).translate(0, (height + belly_y) / 2, 0),
        k=0.4,
    )
    # Cut the foot flat, then hollow it.
    solid = Intersection(solid, Box((5.0, 5.0, 5.0)).translate(0, 5.0, 0))
    d.add("body", _open_top(solid, 0.06, height - 0.05), colour)
    if d.chance(0.5):
        band = d.colour(avoid=[colour])
        d.add("band", Torus(neck_r + 0.02, 0.05).translate(0, height - 0.15, 0), band)
        d.feature(f"a {band} band around the neck")
    d.describe(colour, size_word(height / belly_r, 2.8, 4.0, "squat", "tall"), "round")
    _open_column(d, 0.2, height + 0.2)  # the hollow belly, open through the neck
    d.param(height=height, belly_radius=belly_r)


@register_category("bowl")
def bowl(d: Design) -> None:
    d.material(["ceramic", "wooden", "plastic", "metal"])
    colour = d.colour()
    radius = d.uniform(0.8, 1.2)
    depth = radius * d.uniform(0.45, 0.8)
    # A spherical cap with its bottom at y = 0 and a rim of ``radius`` at y = depth.
    sphere_r = (radius**2 + depth**2) / (2 * depth)
    solid = Sphere(sphere_r).translate(0, sphere_r, 0)
    body = _open_top(solid, 0.08, depth)
    foot = d.chance(0.5)
    d.add("body", body, colour)
    if foot:
        d.add("foot", Cylinder(radius * 0.4, 0.05).translate(0, 0.03, 0), colour)
        d.feature("a foot ring")
    d.describe(colour, size_word(depth / radius, 0.55, 0.7, "shallow", "deep"), "round")
    _open_column(d, 0.15, depth + 0.3)
    d.param(radius=radius, depth=depth)


@register_category("kettle", synonyms=["teapot"])
def kettle(d: Design) -> None:
    d.material(["metal", "ceramic"])
    colour = d.colour()
    radius = d.uniform(0.7, 1.0)
    body = SmoothUnion(
        Sphere(radius).translate(0, radius, 0),
        Cylinder(radius * 0.7, 0.1).translate(0, 0.1, 0),
        k=0.2,
    )
    body = Intersection(body, Box((5.0, 5.0, 5.0)).translate(0, 5.0, 0))
    d.add("body", body, colour)
    spout_len = d.uniform(0.6, 1.0)
    d.add(
        "spout",
        Capsule((radius * 0.6, radius * 0.7, 0), (radius + spout_len * 0.8, radius * 1.3, 0), 0.1),
        colour,
    )
    handle_colour = (
        colour if d.chance(0.6) else d.colour(["black", "brown", "grey"], avoid=[colour])
    )
    top_handle = d.chance(0.5)
    if top_handle:
        handle = Difference(
            Torus(radius * 0.55, 0.06).rotate("x", 90),
            Box((2.0, 2.0, 2.0)).translate(0, -2.0, 0),
        ).translate(0, radius * 1.85, 0)
        d.add("handle", handle, handle_colour)
        d.outside(radius * 0.3, radius * 2.1, 0.0)  # under the arch of the handle
    else:
        handle = _side_handle(radius * 0.9, radius, radius * 0.95, radius, 0.07)
        d.add("handle", handle.rotate("y", 180), handle_colour)  # at the back (-X)
    d.add("lid knob", Sphere(0.12).translate(0, radius * 2.0, 0), handle_colour)
    d.describe(colour, size_word(radius, 0.8, 0.9, "small", "large"), "round")
    where = "on top" if top_handle else "at the back"
    d.feature(
        f"a handle {where}" if handle_colour == colour else f"a {handle_colour} handle {where}"
    )
    d.feature("a spout")
    d.outside(radius * 1.6, radius * 0.4, 0.0)  # under the spout
    d.param(radius=radius, spout=spout_len, top_handle=top_handle)


@register_category("plant_pot", noun="plant pot", synonyms=["flower pot", "planter"])
def plant_pot(d: Design) -> None:
    d.material(["ceramic", "plastic", "stone"])
    colour = d.colour(["brown", "orange", "white", "grey", "blue", "green", "black", "beige"])
    top_r, height = d.uniform(0.5, 0.8), d.uniform(0.6, 1.1)
    bottom_r = top_r * d.uniform(0.6, 0.85)
    body = Cone(bottom_r, top_r, height / 2).translate(0, height / 2, 0)
    d.add("pot", _open_top(body, 0.06, height - 0.06), colour)
    d.add("rim", Torus(top_r, 0.05).translate(0, height - 0.02, 0), colour)
    soil_y = height * 0.8
    soil_r = bottom_r + (top_r - bottom_r) * 0.8 - 0.03
    d.add("soil", Cylinder(soil_r, 0.03).translate(0, soil_y, 0), "brown")
    n_leaves = d.integer(0, 5)
    leaf = d.choice(["green", "teal"])
    for i in range(n_leaves):
        angle = 2 * math.pi * i / max(n_leaves, 1) + d.uniform(-0.3, 0.3)
        tip = (
            top_r * 0.9 * math.cos(angle),
            height + d.uniform(0.4, 0.9),
            top_r * 0.9 * math.sin(angle),
        )
        d.add("leaf", Capsule((0, soil_y, 0), tip, 0.06), leaf)
    d.describe(colour, size_word(height / top_r, 1.1, 1.6, "wide", "tall"))
    if n_leaves:
        d.count(
            "leaf",
            n_leaves,
            "a plant with {n} " + leaf + " leaves",
            singular="a plant with one " + leaf + " leaf",
        )
    else:
        d.feature("only soil in it")
    d.outside(top_r * 1.3, height * 0.5, 0.0)
    d.param(radius=top_r, height=height, leaves=n_leaves)
