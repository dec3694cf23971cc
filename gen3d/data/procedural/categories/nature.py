"""Natural and seasonal things: tree, mushroom, snowman, cactus. Y is up, the front is +Z."""

from __future__ import annotations

import math

from ..design import Design
from ..registry import register_category
from ..sdf import Box, Capsule, Cone, Cylinder, Intersection, SmoothUnion, Sphere, Torus, Union
from .common import size_word


@register_category("tree")
def tree(d: Design) -> None:
    trunk_colour = d.colour(["brown", "beige", "black"])
    trunk_h, trunk_r = d.uniform(1.0, 2.0), d.uniform(0.12, 0.25)
    d.add("trunk", Cylinder(trunk_r, trunk_h / 2).translate(0, trunk_h / 2, 0), trunk_colour)
    pine = d.chance(0.5)
    if pine:
        colour = d.colour(["green", "teal"])
        n = d.integer(2, 4)
        width = d.uniform(0.8, 1.3)
        y = trunk_h * 0.6
        for i in range(n):
            r = width * (1.0 - 0.22 * i)
            h = r * d.uniform(1.0, 1.4)
            d.add("tier", Cone(r, 0.02, h / 2).translate(0, y + h / 2, 0), colour)
            y += h * 0.55
        d.describe(colour, size_word(y, 2.6, 3.4, "small", "tall"), kind="pine")
        d.count("tier", n, "{n} tiers of branches")
        d.outside(trunk_r + 0.1, trunk_h * 0.3, 0.0)  # beside the trunk, below the branches
    else:
        colour = d.colour(["green", "teal", "orange", "yellow", "red"])
        radius = d.uniform(0.7, 1.2)
        blobs = [Sphere(radius).translate(0, trunk_h + radius * 0.7, 0)]
        for i in range(d.integer(2, 5)):
            angle = 2 * math.pi * i / 5 + d.uniform(0, 1)
            r = radius * d.uniform(0.55, 0.8)
            blobs.append(
                Sphere(r).translate(
                    radius * 0.6 * math.cos(angle),
                    trunk_h + radius * d.uniform(0.4, 1.0),
                    radius * 0.6 * math.sin(angle),
                )
            )
        d.add("canopy", SmoothUnion(*blobs, k=0.3), colour)
        autumn = colour in ("orange", "yellow", "red")
        d.describe(colour, size_word(trunk_h, 1.3, 1.7, "small", "tall"), "round")
        d.feature(f"{colour} autumn leaves" if autumn else "a leafy canopy")
        d.outside(trunk_r + 0.1, trunk_h * 0.2, 0.0)
    d.feature(f"a {trunk_colour} trunk")
    d.param(trunk_height=trunk_h, pine=pine)


@register_category("mushroom")
def mushroom(d: Design) -> None:
    colour = d.colour(["red", "brown", "orange", "yellow", "beige", "purple"])
    stem_colour = d.colour(["white", "beige"], avoid=[colour])
    stem_h, stem_r = d.uniform(0.6, 1.4), d.uniform(0.12, 0.25)
    cap_r = d.uniform(0.5, 0.9)
    d.add("stem", Cone(stem_r * 1.3, stem_r, stem_h / 2).translate(0, stem_h / 2, 0), stem_colour)
    sink = d.uniform(0.0, 0.5) * cap_r  # how far the sphere's centre sits below the cap's base
    ball_r = math.hypot(cap_r, sink)
    cap = Intersection(
        Sphere(ball_r).translate(0, stem_h - sink, 0),
        Box((5.0, 5.0, 5.0)).translate(0, stem_h + 5.0, 0),
    )
    d.add("cap", cap, colour)
    spotted = colour in ("red", "orange", "brown") and d.chance(0.6)
    if spotted:
        n = d.integer(3, 7)
        for i in range(n):
            # Spots on the cap's surface, at a polar angle well above the rim.
            theta = d.uniform(0.0, 0.8) * math.acos(sink / ball_r)
            phi = 2 * math.pi * i / n + d.uniform(-0.3, 0.3)
            x = ball_r * math.sin(theta) * math.cos(phi)
            z = ball_r * math.sin(theta) * math.sin(phi)
            y = stem_h - sink + ball_r * math.cos(theta)
            d.add("spot", Sphere(cap_r * 0.12).translate(x, y, z), "white")
        d.count("spot", n, "{n} white spots")
    d.describe(colour, size_word(stem_h / cap_r, 1.2, 2.0, "squat", "tall"))
    d.feature(f"a {stem_colour} stem")
    d.outside((stem_r * 1.3 + cap_r) / 2 + 0.02, stem_h * 0.7, 0.0)  # under the cap
    d.param(stem_height=stem_h, cap_radius=cap_r)


@register_category("snowman")
def snowman(d: Design) -> None:
    n_balls = d.choice([2, 3])
    radii = sorted((d.uniform(0.5, 0.8) * 0.78**i for i in range(n_balls)), reverse=True)
    y = 0.0
    centres = []
    for r in radii:
        y += r if not centres else r * 0.8
        centres.append(y)
        d.add("snowball", Sphere(r).translate(0, y, 0), "white")
        y += r * 0.8
    head_y, head_r = centres[-1], radii[-1]
    for sx in (-1, 1):
        d.add(
            "eye",
            Sphere(head_r * 0.09).translate(
                sx * head_r * 0.35, head_y + head_r * 0.3, head_r * 0.88
            ),
            "black",
        )
    nose = Cone(head_r * 0.15, 0.01, head_r * 0.35).rotate("x", 90)
    d.add("nose", nose.translate(0, head_y, head_r * 1.25), "orange")
    if d.chance(0.5):
        hat = d.colour(["black", "red", "blue", "green"])
        hat_y = head_y + head_r * 0.85
        d.add(
            "hat",
            Union(
                Cylinder(head_r * 0.8, 0.03).translate(0, hat_y, 0),
                Cylinder(head_r * 0.55, head_r * 0.4).translate(0, hat_y + head_r * 0.4, 0),
            ),
            hat,
        )
        d.feature(f"a {hat} hat")
    if d.chance(0.5):
        scarf = d.colour(["red", "blue", "green", "purple", "yellow"])
        neck_y = head_y - head_r * 0.8
        d.add("scarf", Torus(head_r * 0.75, head_r * 0.18).translate(0, neck_y, 0), scarf)
        d.feature(f"a {scarf} scarf")
    if d.chance(0.5):
        body_y, body_r = centres[-2], radii[-2]
        for sx in (-1, 1):
            start = (sx * body_r * 0.85, body_y + body_r * 0.2, 0.0)
            end = (sx * body_r * 1.9, body_y + body_r * 0.8, 0.0)
            d.add("arm", Capsule(start, end, 0.04), "brown")
        d.feature("stick arms")
    d.describe("white", size_word(n_balls, 2.5, 2.5, "small", "tall"))
    d.count("snowball", n_balls, "{n} snowballs")
    d.feature("a carrot nose")
    d.outside(0.0, head_y, -head_r * 1.3)  # behind the head
    d.param(balls=n_balls, head_radius=head_r)


@register_category("cactus")
def cactus(d: Design) -> None:
    colour = d.colour(["green", "teal"])
    height, radius = d.uniform(1.5, 3.0), d.uniform(0.22, 0.35)
    d.add("stem", Capsule((0, radius, 0), (0, height - radius, 0), radius), colour)
    n_arms = d.integer(0, 3)
    for i in range(n_arms):
        angle = (0.0, math.pi, math.pi / 2)[i]  # right, left, back: never in front (-Z probe)
        cx, cz = math.cos(angle), -math.sin(angle)
        base_y = height * d.uniform(0.3, 0.55)
        reach = radius + d.uniform(0.25, 0.45)
        up = d.uniform(0.3, 0.7)
        r = radius * 0.6
        elbow = (reach * cx, base_y, reach * cz)
        arm = Union(
            Capsule((0, base_y, 0), elbow, r), Capsule(elbow, (elbow[0], base_y + up, elbow[2]), r)
        )
        d.add("arm", arm, colour)
    if d.chance(0.4):
        flower = d.colour(["pink", "yellow", "red", "orange", "white"])
        d.add("flower", Sphere(radius * 0.45).translate(0, height - radius * 0.1, 0), flower)
        d.feature(f"a {flower} flower on top")
    d.describe(colour, size_word(height, 2.0, 2.6, "short", "tall"))
    if n_arms:
        d.count("arm", n_arms, "{n} arms", singular="one arm")
    else:
        d.feature("no arms")
    d.outside(0.0, height * 0.5, radius + 0.2)  # in front of the stem
    d.param(height=height, arms=n_arms)
