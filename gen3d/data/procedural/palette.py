"""Colour and material words, and the colours they stand for.

Captions only use these words, and every part's colour is its word's colour plus a small
jitter that keeps it nearest to that word, so a caption that says "red" always has a part a
colour classifier would call red.
"""

from __future__ import annotations

import numpy as np

#: Colour word -> linear RGB in [0, 1]. Any two are at least 0.2 apart, so a jitter of
#: COLOUR_JITTER per channel never changes which word is nearest.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.80, 0.10, 0.10),
    "orange": (0.95, 0.50, 0.10),
    "yellow": (0.95, 0.85, 0.15),
    "green": (0.15, 0.60, 0.20),
    "blue": (0.15, 0.35, 0.85),
    "purple": (0.50, 0.20, 0.65),
    "pink": (0.95, 0.55, 0.75),
    "brown": (0.45, 0.27, 0.12),
    "black": (0.08, 0.08, 0.08),
    "white": (0.95, 0.95, 0.95),
    "grey": (0.55, 0.55, 0.55),
    "beige": (0.85, 0.75, 0.55),
    "teal": (0.10, 0.55, 0.55),
}
COLOUR_JITTER = 0.03

#: Material adjective -> colours it plausibly comes in (painted wood may be any of several).
MATERIAL_COLOURS: dict[str, tuple[str, ...]] = {
    "wooden": ("brown", "beige", "red", "white", "black", "green", "blue"),
    "metal": ("grey", "black", "white", "red", "blue", "teal"),
    "plastic": ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "teal"),
    "ceramic": ("white", "blue", "red", "green", "yellow", "teal", "black", "beige"),
    "stone": ("grey", "beige", "white", "brown"),
    "glass": ("green", "blue", "teal", "brown", "white"),
    "leather": ("brown", "black", "beige", "red"),
    "fabric": ("blue", "grey", "green", "red", "beige", "purple", "pink", "teal"),
    "brick": ("red", "brown", "beige", "grey", "white"),
}

#: Material adjective -> the noun used in phrasings such as "made of wood".
MATERIAL_NOUNS: dict[str, str] = {
    "wooden": "wood",
    "metal": "metal",
    "plastic": "plastic",
    "ceramic": "ceramic",
    "stone": "stone",
    "glass": "glass",
    "leather": "leather",
    "fabric": "fabric",
    "brick": "brick",
}


def jittered_rgb(word: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """The colour of ``word`` with a small random variation."""
    base = np.asarray(COLOURS[word])
    rgb = np.clip(base + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, size=3), 0.0, 1.0)
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def nearest_colour_word(rgb: tuple[float, float, float] | np.ndarray) -> str:
    """The palette word whose colour is closest to ``rgb``."""
    words = list(COLOURS)
    table = np.asarray([COLOURS[w] for w in words])
    return words[int(np.argmin(np.linalg.norm(table - np.asarray(rgb), axis=1)))]
