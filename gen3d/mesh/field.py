"""What mesh extraction needs from a field: distances (and colours) at points, as numpy.

Fields come from several places: procedural shapes and ingested meshes (``sdf(xyz)``,
``query(xyz) -> (sdf, rgb)``), VAE decoders (``query(xyz) -> (sdf, rgb)``, torch), or a
plain function. ``FieldAdapter`` gives extraction one interface over all of them and turns
whatever comes back into float numpy arrays, checking for NaN on the way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gen3d.errors import Gen3DError


class FieldError(Gen3DError):
    """A field that cannot be meshed as asked (NaN values, no surface, wrong shapes)."""


def _to_numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, on any device
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


class FieldAdapter:
    """Wrap ``field``: an object with ``sdf``/``query``/``colour``, or a callable SDF."""

    def __init__(self, field: Any):
        self.field = field
        self.queries = 0  # points asked for, so extraction can report its cost

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Signed distances (N,) at points (N, 3); raises FieldError on NaN or a bad shape."""
        field = self.field
        if hasattr(field, "sdf"):
            values = field.sdf(points)
        elif hasattr(field, "query"):
            values = field.query(points)
            values = values[0] if isinstance(values, tuple) else values
        elif callable(field):
            values = field(points)
        else:
            raise FieldError(f"{type(field).__name__} is not a field: it has no sdf() or query()")
        return self._checked_sdf(values, points)

    def _checked_sdf(self, values: Any, points: np.ndarray) -> np.ndarray:
        self.queries += len(points)
        values = _to_numpy(values).reshape(-1)
        if values.shape != (len(points),):
            raise FieldError(
                f"the field returned {values.shape[0]} values for {len(points)} points"
            )
        bad = ~np.isfinite(values)
        if bad.any():
            raise FieldError(
                f"the field returned NaN or infinity at {int(bad.sum())} of {len(points)} points "
                f"(first at {np.round(points[np.argmax(bad)], 4).tolist()})"
            )
        return values

    def query(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(sdf, rgb or None)`` at points, in one field query where the field answers both
        at once (a decoded field computes both either way)."""
        if hasattr(self.field, "query"):
            result = self.field.query(points)
            if isinstance(result, tuple) and len(result) > 1 and result[1] is not None:
                return self._checked_sdf(result[0], points), _checked_rgb(result[1], points)
        return self.sdf(points), self.colour(points)

    def colour(self, points: np.ndarray) -> np.ndarray | None:
        """RGB (N, 3) in [0, 1] at points, or None when the field has no colour."""
        field = self.field
        if hasattr(field, "colour"):
            rgb = field.colour(points)
        elif hasattr(field, "query"):
            result = field.query(points)
            rgb = result[1] if isinstance(result, tuple) and len(result) > 1 else None
        else:
            rgb = None
        return None if rgb is None else _checked_rgb(rgb, points)


def _checked_rgb(rgb: Any, points: np.ndarray) -> np.ndarray:
    rgb = _to_numpy(rgb).reshape(len(points), 3)
    return np.clip(np.nan_to_num(rgb, nan=0.5), 0.0, 1.0)


class SurfaceColourField:
    """A field whose colour is read on its own surface.

    A decoded field's colour is trained at its surface only, so painting another surface
    (a user's mesh that the field approximates) must not read it wherever that surface
    happens to be: points farther than ``tolerance`` from the field's zero level are moved
    onto it by Newton steps along the SDF's gradient (forward differences), then coloured.
    Each step's query gives the distance and the colour at once, so a point stops paying as
    soon as it is on the surface: one query for points already there, about five for the
    rest (most land in one step).
    """

    def __init__(
        self, field: Any, *, tolerance: float = 0.01, iterations: int = 3, step: float = 2e-3
    ):
        self.adapter = field if isinstance(field, FieldAdapter) else FieldAdapter(field)
        self.tolerance, self.iterations, self.step = tolerance, iterations, step

    def sdf(self, points: np.ndarray) -> np.ndarray:
        return self.adapter.sdf(points)

    def colour(self, points: np.ndarray) -> np.ndarray | None:
        points = np.asarray(points, dtype=np.float64)
        distance, rgb = self.adapter.query(points)
        if rgb is None or len(points) == 0:
            return rgb
        todo = np.flatnonzero(np.abs(distance) > self.tolerance)
        moving, moving_distance = points[todo], distance[todo]
        for _ in range(self.iterations):
            if len(todo) == 0:
                break
            moving = self._newton_step(moving, moving_distance)
            moving_distance, rgb[todo] = self.adapter.query(moving)
            still = np.abs(moving_distance) > self.tolerance
            todo, moving, moving_distance = todo[still], moving[still], moving_distance[still]
        return rgb

    def _newton_step(self, points: np.ndarray, distance: np.ndarray) -> np.ndarray:
        """``points`` moved by their distance against the SDF's unit gradient."""
        gradient = np.stack(
            [self.adapter.sdf(points + offset) - distance for offset in np.eye(3) * self.step],
            axis=1,
        )
        direction = gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-12)
        return np.clip(points - distance[:, None] * direction, -1.0, 1.0)
