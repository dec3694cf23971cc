"""The builder a category generator fills in: parts, caption words and known-empty points.

A generator samples its parameters from ``design.rng`` (and only from it, so a seed fixes
the shape), adds parts in any convenient units, and says what a caption may state about the
result. ``finish`` normalises everything into the unit cube and writes the captions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .captions import CaptionFacts, Feature, compose_captions
from .palette import COLOURS, MATERIAL_COLOURS, jittered_rgb
from .sdf import SDF, Transformed
from .shape import Part, ProceduralShape


class Design:
    """Mutable description of one shape while its generator runs."""

    def __init__(self, rng: np.random.Generator, noun: str, synonyms: Sequence[str] = ()):
        self.rng = rng
        self.noun = noun
        self.synonyms = tuple(synonyms)
        self.parts: list[tuple[str, SDF, str]] = []
        self.adjectives: list[str] = []
        self.features: list[Feature] = []
        self.counts: dict[str, int] = {}
        self.main_colour: str | None = None
        self.kind: str | None = None
        self.material_word: str | None = None
        self.params: dict[str, float | int | bool | str] = {}
        self._outside: list[tuple[float, float, float]] = []

    # ---------------------------------------------------------------- sampling helpers
    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high], both ends included."""
        return int(self.rng.integers(low, high + 1))

    def chance(self, probability: float) -> bool:
        return bool(self.rng.random() < probability)

    def choice(self, options: Sequence[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def material(self, options: Sequence[str]) -> str:
        """Pick the shape's material word (stated in captions)."""
        self.material_word = self.choice(options)
        return self.material_word

    def colour(self, options: Sequence[str] | None = None, avoid: Sequence[str] = ()) -> str:
        """A colour word from ``options`` (default: those of the material, else any)."""
        if options is None:
            options = MATERIAL_COLOURS.get(self.material_word or "", tuple(COLOURS))
        pool = [c for c in options if c not in avoid] or list(options)
        return self.choice(pool)

    # ---------------------------------------------------------------- description
    def add(self, name: str, sdf: SDF, colour: str) -> None:
        """Add a part; parts sharing a name are counted together (four "leg" parts)."""
        if colour not in COLOURS:
            raise ValueError(f"unknown colour word {colour!r}")
        self.parts.append((name, sdf, colour))

    def describe(self, colour: str, *adjectives: str | None, kind: str | None = None) -> None:
        """The main colour (a part must have it), size/shape words in English order, and the
        ``kind`` word that goes right before the noun ("double" bed)."""
        self.main_colour = colour
        self.adjectives.extend(a for a in adjectives if a)
        self.kind = kind

    def feature(self, text: str) -> None:
        """A "with ..." phrase, such as "armrests" or "a green roof"."""
        self.features.append(Feature(text))

    def count(self, part_name: str, n: int, text: str, singular: str | None = None) -> None:
        """State that there are ``n`` parts named ``part_name``; ``text`` is e.g. "{n} legs",
        ``singular`` the phrase used when ``n`` is 1 ("a pillow")."""
        self.counts[part_name] = n
        self.features.append(Feature(text, count=n, singular=singular))

    def outside(self, x: float, y: float, z: float) -> None:
        """A point the design leaves empty (a cavity, a gap between legs)."""
        self._outside.append((x, y, z))

    def param(self, **values: float | int | bool | str) -> None:
        """Record sampled parameters in the shape's attributes (for dataset indexes)."""
        self.params.update(
            {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}
        )

    # ---------------------------------------------------------------- result
    def finish(self, category: str, seed: int, margin: float, n_captions: int) -> ProceduralShape:
        """Normalise into [-1 + margin, 1 - margin]^3 and write captions."""
        if not self.parts:
            raise RuntimeError(f"generator for {category!r} added no parts")
        if self.main_colour is None:
            raise RuntimeError(f"generator for {category!r} did not call describe()")
        part_colours = {colour for _, _, colour in self.parts}
        if self.main_colour not in part_colours:
            raise RuntimeError(f"{category!r}: main colour {self.main_colour} is on no part")
        named = Counter(name for name, _, _ in self.parts)
        for name, n in self.counts.items():
            if named[name] != n:
                raise RuntimeError(f"{category!r}: says {n} x {name!r} but built {named[name]}")

        boxes = [sdf.bounds() for _, sdf, _ in self.parts]
        lo = np.min([b[0] for b in boxes], axis=0)
        hi = np.max([b[1] for b in boxes], axis=0)
        centre = (lo + hi) / 2.0
        scale = (1.0 - margin) / float(np.max(hi - lo) / 2.0)

        def place(sdf: SDF) -> SDF:
            return Transformed.of(sdf, translation=-scale * centre, scale=scale)

        parts = tuple(
            Part(name, place(sdf), colour, jittered_rgb(colour, self.rng))
            for name, sdf, colour in self.parts
        )
        outside = (np.asarray(self._outside, dtype=np.float64).reshape(-1, 3) - centre) * scale

        facts = CaptionFacts(
            noun=self.noun,
            synonyms=self.synonyms,
            adjectives=tuple(self.adjectives),
            kind=self.kind,
            colour=self.main_colour,
            material=self.material_word,
            features=tuple(self.features),
        )
        captions = compose_captions(facts, self.rng, n_captions)
        attributes: dict[str, Any] = {
            "category": category,
            "seed": seed,
            "colour": self.main_colour,
            "material": self.material_word,
            "adjectives": list(self.adjectives),
            "kind": self.kind,
            "features": [f.render() for f in self.features],
            "counts": dict(self.counts),
            "part_colours": sorted(part_colours),
            "params": dict(self.params),
        }
        return ProceduralShape(
            category=category,
            seed=seed,
            parts=parts,
            captions=tuple(captions),
            attributes=attributes,
            outside_points=outside,
        )
