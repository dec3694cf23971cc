"""Vehicles and toys: rocket, toy car, toy airplane, sailboat. Y is up, the nose faces +Z."""

from __future__ import annotations

import math

from ..design import Design
from ..registry import register_category
from ..sdf import Box, Capsule, Cone, Cylinder, Intersection, Sphere, Torus
from .common import size_word


@register_category("rocket")
def rocket(d: Design) -> None:
    d.material(["metal", "plastic"])
    colour = d.colour(["white", "grey", "red", "blue", "yellow"])
    accent = d.colour(["red", "blue", "orange", "black", "green"], avoid=[colour])
    radius, body_h = d.uniform(0.35, 0.55), d.uniform(2.0, 3.5)
    base = 0.4
    d.add("body", Cylinder(radius, body_h / 2).translate(0, base + body_h / 2, 0), colour)
    nose_h = radius * d.uniform(1.5, 2.5)
    d.add(
        "nose cone",
        Cone(radius, 0.02, nose_h / 2).translate(0, base + body_h + nose_h / 2, 0),
        accent,
    )
    d.add("nozzle", Cone(radius * 0.5, radius * 0.7, 0.2).translate(0, base - 0.2, 0), "grey")
    n_fins = d.choice([3, 4])
    fin_len, fin_h = radius * d.uniform(0.6, 1.0), d.uniform(0.6, 1.0)
    for i in range(n_fins):
        angle = 2 * math.pi * i / n_fins
        fin = Box((fin_len / 2, fin_h / 2, 0.05)).rotate("y", -math.degrees(angle))
        centre = radius + fin_len / 2 - 0.02
        d.add(
            "fin",
            fin.translate(
                centre * math.cos(angle), base + fin_h / 2 - 0.3, centre * math.sin(angle)
            ),
            accent,
        )
    if d.chance(0.6):
        y = base + body_h * 0.7
        d.add("window", Sphere(radius * 0.25).translate(0, y, radius * 0.85), "teal")
        d.add(
            "window frame",
            Torus(radius * 0.25, 0.05).rotate("x", 90).translate(0, y, radius * 0.98),
            "grey",
        )
        d.feature("a round window")
    d.describe(colour, size_word(body_h / radius, 5.0, 7.0, "stubby", "tall"))
    d.feature(f"a {accent} nose cone")
    d.count("fin", n_fins, "{n} " + accent + " fins")
    gap = math.pi / n_fins
    r = radius + fin_len * 0.6
    d.outside(r * math.cos(gap), base + fin_h * 0.3 - 0.3, r * math.sin(gap))  # between fins
    d.param(radius=radius, height=body_h, fins=n_fins)


@register_category("toy_car", noun="toy car", synonyms=["car", "toy automobile"])
def toy_car(d: Design) -> None:
    d.material(["plastic", "metal", "wooden"])
    colour = d.colour(avoid=["black"])
    length, width = d.uniform(1.6, 2.4), d.uniform(0.8, 1.1)
    wheel_r = d.uniform(0.2, 0.3)
    body_h = d.uniform(0.3, 0.45)
    body_y = wheel_r * 0.9 + body_h / 2
    d.add("body", Box((width / 2, body_h / 2, length / 2), 0.08).translate(0, body_y, 0), colour)
    style = d.choice(["sedan", "van", "sports"])
    cabin_h = {"sedan": 0.3, "van": 0.55, "sports": 0.22}[style] * d.uniform(0.9, 1.1)
    cabin_l = {"sedan": 0.5, "van": 0.8, "sports": 0.4}[style] * length
    cabin_z = {"sedan": -0.05, "van": -0.05, "sports": -0.12}[style] * length
    window = d.colour(["teal", "blue", "white", "black"], avoid=[colour])
    d.add(
        "cabin",
        Box((width / 2 - 0.06, cabin_h / 2, cabin_l / 2), 0.08).translate(
            0, body_y + body_h / 2 + cabin_h / 2 - 0.02, cabin_z
        ),
        window,
    )
    wheel = "black"
    for sx in (-1, 1):
        for sz in (-1, 1):
            tyre = Cylinder(wheel_r, 0.09, 0.03).rotate("z", 90)
            d.add(
                "wheel",
                tyre.translate(sx * (width / 2 - 0.02), wheel_r, sz * (length / 2 - wheel_r * 1.4)),
                wheel,
            )
    for sx in (-1, 1):
        d.add(
            "headlight",
            Sphere(0.07).translate(sx * width * 0.3, body_y + 0.04, length / 2 - 0.01),
            "yellow",
        )
    d.describe(colour, "boxy" if style == "van" else "low" if style == "sports" else None)
    d.feature(f"{window} windows")
    d.count("wheel", 4, "{n} black wheels")
    d.outside(0.0, wheel_r * 0.3, 0.0)  # under the body, between the wheels
    d.outside(0.0, body_y + body_h / 2 + 0.15, length / 2 - 0.1)  # above the bonnet
    d.param(length=length, width=width, style=style)


@register_category(
    "toy_airplane", noun="toy airplane", synonyms=["airplane", "aeroplane", "toy plane"]
)
def toy_airplane(d: Design) -> None:
    d.material(["plastic", "metal", "wooden"])
    colour = d.colour()
    length, radius = d.uniform(2.5, 3.5), d.uniform(0.22, 0.32)
    y = 0.8
    d.add("fuselage", Capsule((0, y, -length / 2), (0, y, length / 2), radius), colour)
    wing_colour = colour if d.chance(0.6) else d.colour(avoid=[colour])
    span = length * d.uniform(0.8, 1.1)
    chord = d.uniform(0.4, 0.6)
    wing_z = d.uniform(-0.1, 0.25)
    d.add("wing", Box((span / 2, 0.05, chord / 2), 0.03).translate(0, y, wing_z), wing_colour)
    d.add(
        "tailplane",
        Box((span * 0.2, 0.04, chord * 0.3), 0.02).translate(
            0, y + radius * 0.3, -length / 2 + 0.1
        ),
        wing_colour,
    )
    d.add(
        "tail fin",
        Box((0.04, radius * 1.3, chord * 0.35), 0.02).translate(
            0, y + radius * 1.5, -length / 2 + 0.1
        ),
        wing_colour,
    )
    jet = d.chance(0.5)
    if jet:
        for sx in (-1, 1):
            engine = Cylinder(radius * 0.45, chord * 0.45, 0.04).rotate("x", 90)
            d.add(
                "engine", engine.translate(sx * span * 0.25, y - radius * 0.8, wing_z + 0.1), "grey"
            )
        d.count("engine", 2, "{n} jet engines")
    else:
        n = d.choice([2, 3])
        for i in range(n):
            blade = Box((0.07, radius * 1.6, 0.05)).rotate("z", 180 * i / n + 15)
            d.add("propeller blade", blade.translate(0, y, length / 2 + radius + 0.04), "black")
        d.count("propeller blade", n, "a propeller with {n} blades")
    wing_text = "wings" if wing_colour == colour else f"{wing_colour} wings"
    d.describe(colour, "small" if length < 2.8 else None)
    d.feature(wing_text)
    d.outside(span * 0.42, y - radius * 1.2, wing_z)  # under a wing tip
    d.outside(span * 0.3, y, -length / 2 + 0.1)  # beside the tail
    d.param(length=length, span=span, jet=jet)


@register_category("sailboat", synonyms=["sailing boat", "boat"])
def sailboat(d: Design) -> None:
    d.material(["wooden", "plastic"])
    colour = d.colour()
    length, beam = d.uniform(2.0, 3.0), d.uniform(0.6, 0.9)
    depth = d.uniform(0.35, 0.5)
    # The hull: a long rounded box cut by a big cylinder below, so the bottom curves up.
    keel = Cylinder(length * 1.2, beam).rotate("z", 90).translate(0, length * 1.2 - 0.05, 0)
    hull = Intersection(
        Box((beam / 2, depth / 2, length / 2), 0.15).translate(0, depth / 2, 0), keel
    )
    d.add("hull", hull, colour)
    mast_h = length * d.uniform(0.9, 1.3)
    d.add("mast", Cylinder(0.04, mast_h / 2).translate(0, depth + mast_h / 2, 0.1), "brown")
    sail = d.colour(["white", "red", "yellow", "blue", "beige"], avoid=[colour])
    # A triangular sail behind the mast: a thin slab under the plane through the mast's top
    # and the boom's end (a big box whose top face lies on that plane).
    boom, rise = length * 0.4, mast_h * 0.9
    foot_y = depth + 0.1
    slab = Box((0.04, rise / 2, boom / 2)).translate(0, foot_y + rise / 2, 0.1 - boom / 2)
    hyp = math.hypot(boom, rise)
    n_y, n_z = boom / hyp, -rise / hyp  # the plane's outward normal, up and aft
    big = 10.0
    below = Box((1.0, big, big)).rotate("x", math.degrees(math.atan2(n_z, n_y)))
    below = below.translate(0, foot_y + rise - n_y * big, 0.1 - n_z * big)
    d.add("sail", Intersection(slab, below), sail)
    d.describe(colour, size_word(length, 2.3, 2.7, "small", "long"))
    d.feature(f"a {sail} sail")
    d.outside(0.0, depth + mast_h * 0.5, 0.1 + boom * 0.3)  # in front of the mast
    d.param(length=length, mast=mast_h)
