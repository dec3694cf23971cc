"""The camera an input image is seen from, for refining a texture against it.

``view`` is one of:

- ``"auto"`` (the default): estimated from the image and the mesh (``render.pose``): the orbit
  direction whose render of the mesh best matches the photo's object, by silhouette and colour;
- ``"reference"``: the pipeline's reference view (what its image encoder was trained on, and
  how renders made for gen3d are usually taken);
- ``(azimuth, elevation)`` in degrees: the orbit camera of that direction (azimuth 0 looks at
  the object's front, counter-clockwise seen from above; elevation above the horizon);
- ``(azimuth, elevation, roll)``: and the picture turned ``roll`` degrees counter-clockwise (a
  camera held askew; ``auto`` estimates it too, up to ``render.pose.MAX_ROLL``).

The CLI's ``--view``, the service's ``view`` form field and the batch ``view`` column take the
same as text: ``auto``, ``reference`` or ``AZIMUTH,ELEVATION[,ROLL]`` (e.g. ``210,15`` or
``210,15,-5``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from gen3d.errors import Gen3DError

VIEW_WORDS = ("auto", "reference")
#: faces the view is estimated on: silhouettes at the estimate's 96^2 pixels do not change
#: when a bigger mesh is simplified to this, and the search's time grows with faces
POSE_FACES = 50_000
#: the form the text of a view takes, for help texts and errors
VIEW_HELP = "auto, reference, or AZIMUTH,ELEVATION[,ROLL] in degrees (e.g. 210,15 or 210,15,-5)"
#: the largest roll a view may give, degrees either way (a picture turned further is upside
#: down rather than askew: give the direction it was taken from instead)
MAX_GIVEN_ROLL = 90.0

View = str | tuple[float, float] | tuple[float, float, float]


class ViewError(Gen3DError, ValueError):
    """A view that is neither a known word nor an (azimuth, elevation) pair in range."""


def parse_view(value: Any) -> View:
    """``value`` (a word, ``"AZ,EL[,ROLL]"`` text or two or three numbers) as a checked view:
    a word, (azimuth in [0, 360), elevation in [-90, 90]), or that and roll in [-90, 90]."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in VIEW_WORDS:
            return text
        parts = text.replace(" ", "").split(",")
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            raise ViewError(f"view {value!r} is not one of {VIEW_HELP}") from None
        return parse_view(tuple(numbers))
    if isinstance(value, list | tuple) and len(value) in (2, 3):
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
            raise ViewError(f"view {value!r}: azimuth, elevation and roll must be numbers")
        numbers = [float(v) for v in value]
        if not all(math.isfinite(v) for v in numbers):
            raise ViewError(f"view {value!r}: azimuth, elevation and roll must be finite")
        azimuth, elevation = numbers[:2]
        if not -90.0 <= elevation <= 90.0:
            raise ViewError(f"view elevation {elevation:g} is out of range: use -90..90 degrees")
        if len(numbers) == 2:
            return (azimuth % 360.0, elevation)
        roll = numbers[2]
        if not -MAX_GIVEN_ROLL <= roll <= MAX_GIVEN_ROLL:
            raise ViewError(
                f"view roll {roll:g} is out of range: use -{MAX_GIVEN_ROLL:g}..{MAX_GIVEN_ROLL:g}"
                " degrees"
            )
        return (azimuth % 360.0, elevation, roll)
    raise ViewError(f"view {value!r} is not one of {VIEW_HELP}")


def view_text(view: View) -> str:
    """A checked view as the text ``parse_view`` reads back (``"auto"``, ``"210,15"``)."""
    if isinstance(view, str):
        return view
    return ",".join(f"{angle:g}" for angle in view)


def prepared_photo(image: Any, size: int, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The image framed as the pipeline frames inputs (``gen3d.images.prepare_image``):
    ``(size, size, 3)`` colours in [0, 1] and the ``(size, size)`` object mask."""
    from gen3d.images import prepare_input

    framed = prepare_input(image, size, margin=margin)
    colours = torch.from_numpy(np.asarray(framed.image, dtype=np.float32) / 255.0)
    return colours, torch.from_numpy(framed.mask)


def estimate_photo_view(
    mesh: Any,
    photo: tuple[torch.Tensor, torch.Tensor],
    margin: float,
    prior: tuple[float, float] | None = None,
    *,
    direction_prior: Any = None,
    max_roll: float | None = None,
    resolution: int | None = None,
    polish: bool = True,
) -> Any:
    """``render.pose.ViewEstimate``: the direction from which trimesh ``mesh`` (in the model's
    frame, with its baked colour) looks most like ``photo`` (``prepared_photo``'s colours and
    mask, framed with ``margin``); ``prior`` (the reference view) wins a near tie, as where the
    mesh looks the same from every side. ``direction_prior``: how likely each direction is
    from the photo alone (``gen3d.view_net.ViewPrior``), for a mesh in the model's frame, which
    a generated one is and a mesh to paint need not be. ``max_roll``: the most the picture
    may be turned (degrees either way; default ``render.pose.MAX_ROLL``, 0: take it to be
    level).
    ``resolution``: of the silhouettes compared (default ``render.pose.PoseSettings``').
    ``polish``: end with the soft-silhouette search (``PoseSettings.polish_samples``), which pins
    the direction finer; only the roll is wanted, it can be left out."""
    from render import RenderMesh
    from render.pose import PoseSettings, estimate_view

    colours, mask = photo
    drawable = RenderMesh.from_trimesh(_simplified(mesh))
    settings = PoseSettings(margin=margin)
    if max_roll is not None:
        settings.max_roll = max_roll
    if resolution is not None:
        settings.resolution = resolution
    if not polish:
        settings.polish_samples = 0
    return estimate_view(
        drawable, colours, mask, prior=prior, direction_prior=direction_prior, settings=settings
    )


def _simplified(mesh: Any, faces: int | None = None) -> Any:
    """``mesh`` with at most ``faces`` (``POSE_FACES``) faces for estimating its view, its
    colour (texture or vertex colours) carried over as vertex colours from the nearest
    original vertex."""
    import trimesh
    from scipy.spatial import cKDTree

    faces = POSE_FACES if faces is None else faces
    if len(mesh.faces) <= faces:
        return mesh
    colours = _vertex_colours(mesh)
    simple = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    simple = simple.simplify_quadric_decimation(face_count=faces)
    if colours is not None:
        _, nearest = cKDTree(np.asarray(mesh.vertices)).query(np.asarray(simple.vertices))
        simple.visual = trimesh.visual.ColorVisuals(simple, vertex_colors=colours[nearest])
    return simple


def _vertex_colours(mesh: Any) -> np.ndarray | None:
    """RGBA uint8 per vertex: the texture's texel at each vertex's UV, or the vertex colours
    (None for a mesh without colour)."""
    from render.mesh import material_image

    visual = mesh.visual
    if visual.kind == "texture":
        image = material_image(visual.material)
        if image is None or visual.uv is None:
            return None
        texels = np.asarray(image.convert("RGBA"))
        height, width = texels.shape[:2]
        uv = np.clip(np.nan_to_num(np.asarray(visual.uv, dtype=np.float64)), 0.0, 1.0)
        rows = np.round((1.0 - uv[:, 1]) * (height - 1)).astype(int)
        columns = np.round(uv[:, 0] * (width - 1)).astype(int)
        return texels[rows, columns]
    if visual.kind in ("vertex", "face"):
        return np.asarray(visual.vertex_colors)
    return None
