"""A generated shape: parts with colours, its SDF and colour field, captions and attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from .sdf import SDF, Array, Bounds, _const


@dataclass(frozen=True)
class Part:
    """One named, single-coloured piece of a shape (a leg, the seat, a handle)."""

    name: str
    sdf: SDF
    colour: str  # a palette word
    rgb: tuple[float, float, float]


@dataclass(frozen=True)
class ProceduralShape:
    """A shape in the unit cube, +Y up, facing +Z, with an exact field over numpy or torch.

    ``sdf(xyz)`` and ``colour(xyz)`` take points ``(..., 3)`` as a numpy array or a torch
    tensor (any device; differentiable) and answer in the same kind of array: distances
    ``(...)``, negative inside, and RGB ``(..., 3)`` in [0, 1] (the colour of the nearest
    part). ``query`` answers both at the cost of one.
    """

    category: str
    seed: int
    parts: tuple[Part, ...]
    captions: tuple[str, ...]
    attributes: dict[str, Any]
    #: points (K, 3) the design says are empty: a mug's cavity, the space under a table.
    outside_points: np.ndarray = field(repr=False)

    def _part_distances(self, xyz: Array) -> Array:
        xp = array_namespace(xyz)
        return xp.stack([part.sdf(xyz) for part in self.parts], axis=-1)

    def sdf(self, xyz: Array) -> Array:
        xp = array_namespace(xyz)
        return xp.min(self._part_distances(xyz), axis=-1)

    def colour(self, xyz: Array) -> Array:
        return self.query(xyz)[1]

    def query(self, xyz: Array) -> tuple[Array, Array]:
        """``(sdf (...), rgb (..., 3))`` at points ``xyz (..., 3)``."""
        xp = array_namespace(xyz)
        distances = self._part_distances(xyz)
        nearest = xp.argmin(distances, axis=-1)
        palette = _const([part.rgb for part in self.parts], xyz)
        rgb = xp.take(palette, xp.reshape(nearest, (-1,)), axis=0)
        return xp.min(distances, axis=-1), xp.reshape(rgb, (*nearest.shape, 3))

    def part_of(self, xyz: np.ndarray) -> np.ndarray:
        """The index (into ``parts``) of the part nearest each point ``(..., 3)``: for surface
        points, the part whose surface they are on."""
        return np.argmin(self._part_distances(np.asarray(xyz)), axis=-1)

    def bounds(self) -> Bounds:
        boxes = [part.sdf.bounds() for part in self.parts]
        return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)

    @property
    def caption(self) -> str:
        """The canonical caption ("a tall red wooden chair with armrests and four legs")."""
        return self.captions[0]
