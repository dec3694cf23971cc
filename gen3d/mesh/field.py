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
        self.queries += len(points)
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
        if rgb is None:
            return None
        rgb = _to_numpy(rgb).reshape(len(points), 3)
        return np.clip(np.nan_to_num(rgb, nan=0.5), 0.0, 1.0)
