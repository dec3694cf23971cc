"""Furniture: chair, table, stool, bench, sofa, bed, shelf, cabinet, desk.

Units are roughly metres; the seat or top faces +Y, the front faces +Z.
"""

from __future__ import annotations

import math

from ..design import Design
from ..registry import register_category
from ..sdf import Box, Capsule, Cylinder, Sphere, Torus
from .common import add_legs, corners, plank, size_word


@register_category("chair")
def chair(d: Design) -> None:
    d.material(["wooden", "metal", "plastic"])
    colour = d.colour()
    width, depth = d.uniform(0.40, 0.55), d.uniform(0.40, 0.55)
    seat_y, thick = d.uniform(0.40, 0.50), d.uniform(0.03, 0.06)
    back = d.uniform(0.25, 0.70)
    leg_r = d.uniform(0.018, 0.032)
    d.add(
        "seat",
        plank(width / 2, thick / 2, depth / 2, 0.01).translate(0, seat_y - thick / 2, 0),
        colour,
    )
    d.add(
        "backrest",
        plank(width / 2, back / 2, thick / 2, 0.01).translate(
            0, seat_y + back / 2, -depth / 2 + thick / 2
        ),
        colour,
    )
    leg_colour = colour if d.chance(0.7) else d.colour(avoid=[colour])
    inset_x, inset_z = width / 2 - 1.5 * leg_r, depth / 2 - 1.5 * leg_r
    add_legs(d, corners(inset_x, inset_z), seat_y - thick, leg_r, leg_colour, d.chance(0.5))
    if d.chance(0.4):
        arm_y = seat_y + d.uniform(0.18, 0.25)
        for sx in (-1, 1):
            x = sx * (width / 2 - 0.02)
            d.add("armrest", plank(0.025, 0.015, depth * 0.42).translate(x, arm_y, 0.0), colour)
            d.add(
                "arm post",
                Capsule((x, seat_y, depth * 0.35), (x, arm_y, depth * 0.35), 0.015),
                colour,
            )
        d.feature("armrests")
    tall = size_word(seat_y + back, 0.78, 1.02, "low", "tall")
    d.describe(colour, tall)
    legs_text = "{n} legs" if leg_colour == colour else "{n} " + leg_colour + " legs"
    d.count("leg", 4, legs_text)
    d.outside(0.0, (seat_y - thick) * 0.5, 0.0)  # under the seat, between the legs
    d.outside(0.0, seat_y + back * 0.6, depth * 0.25)  # in front of the backrest
    d.param(width=width, depth=depth, seat_height=seat_y, back_height=back)


@register_category("table")
def table(d: Design) -> None:
    d.material(["wooden", "metal", "stone", "plastic"])
    colour = d.colour()
    height = d.uniform(0.40, 0.80)
    thick = d.uniform(0.03, 0.06)
    round_top = d.chance(0.4)
    pedestal = round_top and d.chance(0.5)
    if round_top:
        radius = d.uniform(0.40, 0.70)
        d.add("top", Cylinder(radius, thick / 2, 0.01).translate(0, height - thick / 2, 0), colour)
        half_x = half_z = radius * 0.62
    else:
        half_x, half_z = d.uniform(0.45, 0.90), d.uniform(0.35, 0.55)
        d.add(
            "top",
            plank(half_x, thick / 2, half_z, 0.01).translate(0, height - thick / 2, 0),
            colour,
        )
        half_x, half_z = half_x - 0.06, half_z - 0.06
    leg_colour = colour if d.chance(0.7) else d.colour(avoid=[colour])
    leg_text = "" if leg_colour == colour else leg_colour + " "
    if pedestal:
        d.add(
            "pedestal",
            Cylinder(0.05, (height - thick) / 2).translate(0, (height - thick) / 2, 0),
            leg_colour,
        )
        d.add("base", Cylinder(radius * 0.5, 0.02, 0.01).translate(0, 0.02, 0), leg_colour)
        d.feature(f"a single {leg_text}pedestal")
        d.outside(radius * 0.75, height * 0.5, 0.0)
    else:
        add_legs(
            d,
            corners(half_x, half_z),
            height - thick,
            d.uniform(0.02, 0.04),
            leg_colour,
            round_=d.chance(0.5),
        )
        d.count("leg", 4, "{n} " + leg_text + "legs")
        d.outside(0.0, height * 0.4, 0.0)
    shape_word = "round" if round_top else ("rectangular" if half_x > 1.3 * half_z else "square")
    d.describe(colour, size_word(height, 0.5, 0.75, "low", "tall"), shape_word)
    d.param(height=height, round_top=round_top, pedestal=pedestal)


@register_category("stool")
def stool(d: Design) -> None:
    d.material(["wooden", "metal", "plastic"])
    colour = d.colour()
    height = d.uniform(0.45, 0.80)
    radius = d.uniform(0.15, 0.22)
    n_legs = d.choice([3, 4])
    d.add("seat", Cylinder(radius, 0.025, 0.01).translate(0, height - 0.025, 0), colour)
    splay = d.uniform(0.0, 0.06)
    for i in range(n_legs):
        angle = 2 * math.pi * i / n_legs + math.pi / 4
        top = (radius * 0.65 * math.cos(angle), height - 0.05, radius * 0.65 * math.sin(angle))
        foot_r = radius * 0.65 + splay
        foot = (foot_r * math.cos(angle), 0.02, foot_r * math.sin(angle))
        d.add("leg", Capsule(foot, top, 0.02), colour)
    if d.chance(0.4):
        d.add(
            "footrest",
            Torus(radius * 0.65 + splay * 0.6, 0.012).translate(0, height * 0.35, 0),
            colour,
        )
        d.feature("a footrest ring")
    d.describe(colour, size_word(height, 0.55, 0.68, "low", "tall"), "round")
    d.count("leg", n_legs, "{n} legs")
    d.outside(0.0, height * 0.6, 0.0)
    d.param(height=height, radius=radius)


@register_category("bench")
def bench(d: Design) -> None:
    d.material(["wooden", "metal", "stone"])
    colour = d.colour()
    length, depth = d.uniform(1.0, 1.8), d.uniform(0.30, 0.45)
    seat_y, thick = d.uniform(0.40, 0.48), d.uniform(0.04, 0.07)
    d.add(
        "seat",
        plank(length / 2, thick / 2, depth / 2, 0.01).translate(0, seat_y - thick / 2, 0),
        colour,
    )
    panel_legs = d.chance(0.5)
    if panel_legs:
        for sx in (-1, 1):
            d.add(
                "support",
                plank(0.03, (seat_y - thick) / 2, depth / 2 - 0.02).translate(
                    sx * (length / 2 - 0.12), (seat_y - thick) / 2, 0
                ),
                colour,
            )
        d.feature("two solid side supports")
    else:
        add_legs(
            d,
            corners(length / 2 - 0.08, depth / 2 - 0.06),
            seat_y - thick,
            0.03,
            colour,
            round_=False,
        )
        d.count("leg", 4, "{n} legs")
    if d.chance(0.5):
        back_h = d.uniform(0.25, 0.40)
        d.add(
            "backrest",
            plank(length / 2, back_h / 2, 0.02).translate(
                0, seat_y + 0.05 + back_h / 2, -depth / 2 + 0.02
            ),
            colour,
        )
        d.add(
            "back post",
            plank(0.03, 0.04, 0.02).translate(-length / 2 + 0.1, seat_y + 0.02, -depth / 2 + 0.02),
            colour,
        )
        d.add(
            "back post",
            plank(0.03, 0.04, 0.02).translate(length / 2 - 0.1, seat_y + 0.02, -depth / 2 + 0.02),
            colour,
        )
        d.feature("a backrest")
    d.describe(colour, size_word(length, 1.2, 1.6, "short", "long"))
    d.outside(0.0, (seat_y - thick) * 0.5, 0.0)
    d.param(length=length, seat_height=seat_y, panel_legs=panel_legs)


@register_category("sofa", synonyms=["couch"])
def sofa(d: Design) -> None:
    d.material(["fabric", "leather"])
    colour = d.colour()
    n_cushions = d.integer(1, 3)
    length = 0.65 * n_cushions + d.uniform(0.25, 0.45)
    depth, base_y = d.uniform(0.75, 0.95), d.uniform(0.12, 0.22)
    base_h, arm_w = 0.22, d.uniform(0.10, 0.20)
    d.add(
        "base",
        Box((length / 2, base_h / 2, depth / 2), 0.04).translate(0, base_y + base_h / 2, 0),
        colour,
    )
    back_h = d.uniform(0.35, 0.55)
    d.add(
        "backrest",
        Box((length / 2, back_h / 2, 0.10), 0.05).translate(
            0, base_y + base_h + back_h / 2, -depth / 2 + 0.10
        ),
        colour,
    )
    arm_h = d.uniform(0.18, 0.30)
    for sx in (-1, 1):
        d.add(
            "arm",
            Box((arm_w / 2, arm_h / 2, depth / 2), 0.05).translate(
                sx * (length / 2 - arm_w / 2), base_y + base_h + arm_h / 2, 0
            ),
            colour,
        )
    inner = length - 2 * arm_w
    cushion_w = inner / n_cushions
    cushion_colour = colour if d.chance(0.6) else d.colour(avoid=[colour])
    for i in range(n_cushions):
        x = -inner / 2 + cushion_w * (i + 0.5)
        d.add(
            "cushion",
            Box((cushion_w / 2 - 0.01, 0.06, depth / 2 - 0.12), 0.04).translate(
                x, base_y + base_h + 0.06, 0.06
            ),
            cushion_colour,
        )
    foot_colour = d.colour(["black", "brown", "grey"])
    add_legs(d, corners(length / 2 - 0.08, depth / 2 - 0.08), base_y, 0.025, foot_colour)
    cushion_text = "" if cushion_colour == colour else cushion_colour + " "
    d.describe(colour, size_word(n_cushions, 1.5, 2.5, "small", "large"))
    d.count(
        "cushion",
        n_cushions,
        "{n} " + cushion_text + "seat cushions",
        singular="a single " + cushion_text + "seat cushion",
    )
    d.outside(0.0, base_y + base_h + 0.12 + 0.15, 0.15)  # above the cushions
    d.outside(0.0, base_y * 0.5, 0.0)  # under the base between the feet
    d.param(length=length, depth=depth)


@register_category("bed")
def bed(d: Design) -> None:
    d.material(["wooden", "metal"])
    colour = d.colour()
    width, length = d.uniform(0.9, 1.8), d.uniform(1.9, 2.1)
    frame_y = d.uniform(0.25, 0.40)
    d.add("frame", plank(width / 2, 0.06, length / 2, 0.01).translate(0, frame_y - 0.06, 0), colour)
    add_legs(
        d, corners(width / 2 - 0.05, length / 2 - 0.05), frame_y - 0.12, 0.04, colour, round_=False
    )
    sheet = d.colour(["white", "blue", "beige", "grey", "pink", "green"], avoid=[colour])
    mattress_h = d.uniform(0.15, 0.25)
    d.add(
        "mattress",
        Box((width / 2 - 0.03, mattress_h / 2, length / 2 - 0.03), 0.05).translate(
            0, frame_y + mattress_h / 2, 0
        ),
        sheet,
    )
    head_h = d.uniform(0.5, 0.9)
    d.add(
        "headboard",
        plank(width / 2, head_h / 2, 0.03, 0.02).translate(0, head_h / 2, -length / 2 - 0.03),
        colour,
    )
    if d.chance(0.5):
        d.add(
            "footboard",
            plank(width / 2, frame_y * 0.7, 0.03, 0.02).translate(
                0, frame_y * 0.7, length / 2 + 0.03
            ),
            colour,
        )
        d.feature("a footboard")
    n_pillows = 2 if width > 1.3 else 1
    top = frame_y + mattress_h
    for i in range(n_pillows):
        x = 0.0 if n_pillows == 1 else (i - 0.5) * width / 2
        d.add(
            "pillow",
            Box((min(0.3, width / 2 / n_pillows - 0.04), 0.06, 0.18), 0.05).translate(
                x, top + 0.05, -length / 2 + 0.25
            ),
            "white",
        )
    d.describe(colour, kind="double" if width > 1.3 else "single")
    d.feature(f"a {sheet} mattress")
    d.count("pillow", n_pillows, "{n} pillows", singular="a pillow")
    d.outside(0.0, top + 0.25, 0.2)
    d.param(width=width, length=length)


@register_category("shelf", synonyms=["bookshelf", "shelving unit"])
def shelf(d: Design) -> None:
    d.material(["wooden", "metal"])
    colour = d.colour()
    width, depth = d.uniform(0.5, 1.2), d.uniform(0.25, 0.40)
    n_shelves = d.integer(2, 6)
    gap = d.uniform(0.25, 0.38)
    height = gap * (n_shelves - 1) + 0.1
    t = 0.02
    for sx in (-1, 1):
        d.add(
            "side",
            plank(t, height / 2, depth / 2).translate(sx * (width / 2 - t), height / 2, 0),
            colour,
        )
    for i in range(n_shelves):
        y = 0.05 + i * gap
        d.add("shelf", plank(width / 2 - 2 * t, t, depth / 2 - 0.005).translate(0, y, 0), colour)
    if d.chance(0.5):
        d.add(
            "back panel",
            plank(width / 2, height / 2, 0.015).translate(0, height / 2, -depth / 2),
            colour,
        )
        d.feature("a back panel")
    d.describe(colour, size_word(height, 0.8, 1.4, "low", "tall"))
    d.count("shelf", n_shelves, "{n} shelves")
    d.outside(0.0, 0.05 + gap * 0.5, depth * 0.2)  # between the two lowest shelves
    d.param(width=width, height=height, shelves=n_shelves)


@register_category("cabinet", synonyms=["cupboard"])
def cabinet(d: Design) -> None:
    d.material(["wooden", "metal"])
    colour = d.colour()
    width, depth = d.uniform(0.5, 1.1), d.uniform(0.35, 0.55)
    height = d.uniform(0.6, 1.6)
    leg_h = d.uniform(0.06, 0.14)
    d.add(
        "body",
        plank(width / 2, height / 2, depth / 2, 0.01).translate(0, leg_h + height / 2, 0),
        colour,
    )
    add_legs(d, corners(width / 2 - 0.04, depth / 2 - 0.04), leg_h, 0.02, colour, round_=False)
    knob = d.colour(["black", "grey", "yellow", "brown"], avoid=[colour])
    drawers = d.chance(0.4)
    front = depth / 2
    if drawers:
        n = d.integer(2, 5)
        h = height / n
        for i in range(n):
            y = leg_h + h * (i + 0.5)
            d.add(
                "drawer",
                plank(width / 2 - 0.03, h / 2 - 0.015, 0.02).translate(0, y, front),
                colour,
            )
            d.add("knob", Sphere(0.025).translate(0, y, front + 0.04), knob)
        d.count("drawer", n, "{n} drawers")
    else:
        n = d.choice([1, 2])
        door_w = (width - 0.04) / n
        y = leg_h + height / 2
        for i in range(n):
            x = -width / 2 + 0.02 + door_w * (i + 0.5)
            d.add(
                "door",
                plank(door_w / 2 - 0.01, height / 2 - 0.03, 0.02).translate(x, y, front),
                colour,
            )
            knob_x = x + (door_w / 2 - 0.06) * (1 if i == 0 else -1)  # by the meeting edge
            d.add("knob", Sphere(0.025).translate(knob_x, y, front + 0.04), knob)
        d.count("door", n, "{n} doors", singular="a single door")
    d.describe(colour, size_word(height, 0.9, 1.3, "low", "tall"))
    d.feature(f"{knob} knobs")
    d.outside(0.0, leg_h * 0.5, 0.0)
    d.param(width=width, height=height, drawers=drawers)


@register_category("desk")
def desk(d: Design) -> None:
    d.material(["wooden", "metal"])
    colour = d.colour()
    width, depth = d.uniform(1.0, 1.6), d.uniform(0.55, 0.8)
    height, t = d.uniform(0.70, 0.78), 0.03
    d.add("top", plank(width / 2, t, depth / 2, 0.01).translate(0, height - t, 0), colour)
    unit = d.chance(0.6)
    if unit:
        unit_w = d.uniform(0.35, 0.45)
        x = width / 2 - unit_w / 2 - 0.02
        d.add(
            "drawer unit",
            plank(unit_w / 2, (height - 2 * t) / 2, depth / 2 - 0.02).translate(
                x, (height - 2 * t) / 2, 0
            ),
            colour,
        )
        n = d.integer(2, 4)
        h = (height - 2 * t) / n
        knob = d.colour(["black", "grey", "yellow"], avoid=[colour])
        for i in range(n):
            d.add("knob", Sphere(0.015).translate(x, h * (i + 0.5), depth / 2 + 0.0), knob)
        add_legs(
            d,
            [(-width / 2 + 0.05, -depth / 2 + 0.05), (-width / 2 + 0.05, depth / 2 - 0.05)],
            height - 2 * t,
            0.025,
            colour,
            round_=False,
        )
        d.feature("a drawer unit")
        d.count("knob", n, "{n} drawers")
        d.count("leg", 2, "{n} legs")
    else:
        add_legs(
            d,
            corners(width / 2 - 0.05, depth / 2 - 0.05),
            height - 2 * t,
            0.025,
            colour,
            round_=False,
        )
        d.count("leg", 4, "{n} legs")
    d.describe(colour, size_word(width, 1.2, 1.45, "small", "wide"))
    d.outside(-width * 0.1, height * 0.45, 0.0)  # the knee space
    d.param(width=width, depth=depth, drawer_unit=unit)
