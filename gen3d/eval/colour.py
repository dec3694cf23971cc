"""Which colour words a coloured mesh shows, for the colour accuracy of text-to-3D.

Surface points are sampled by area with their colours (vertex colours or the texture at
their UVs), each is named by the nearest palette colour (the words captions use,
``gen3d.data.procedural.palette.COLOURS``), and a word counts as shown when it covers at
least ``min_share`` of the surface. A prompt naming a colour is right when that word is
shown: procedural shapes have parts in several colours, and a "red chair" may have brown
legs.

Example::

    >>> import trimesh
    >>> box = trimesh.creation.box()
    >>> box.visual.vertex_colors = [204, 25, 25, 255]
    >>> shown_colours(box)
    ['red']
"""

from __future__ import annotations

import numpy as np
import trimesh

from gen3d.data.procedural.palette import COLOURS
from render.mesh import material_image

WORDS = tuple(COLOURS)
_PALETTE = np.asarray([COLOURS[word] for word in WORDS])


def name_colours(rgb: np.ndarray) -> np.ndarray:
    """The nearest palette word's index for each colour (N, 3) in [0, 1]."""
    distances = np.linalg.norm(rgb[:, None, :] - _PALETTE[None, :, :], axis=-1)
    return distances.argmin(axis=1)


def surface_colours(mesh: trimesh.Trimesh, count: int = 4096, seed: int = 0) -> np.ndarray:
    """Colours (count, 3) in [0, 1] of points sampled by area on ``mesh``."""
    if len(mesh.faces) == 0:
        raise ValueError("the mesh has no faces")
    visual = mesh.visual
    if visual.kind == "texture" and getattr(visual, "uv", None) is not None:
        # trimesh samples textures of simple materials only: glTF's PBR keeps its image as
        # the base colour texture.
        material = visual.material
        image = material_image(material)
        if image is not None:
            mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
            mesh.visual = trimesh.visual.TextureVisuals(uv=visual.uv, image=image)
    _, _, colours = trimesh.sample.sample_surface(mesh, count, sample_color=True, seed=seed)
    colours = np.asarray(colours, dtype=np.float64)[:, :3]
    return colours / 255.0 if colours.max() > 1.0 else colours


def colour_shares(mesh: trimesh.Trimesh, count: int = 4096) -> dict[str, float]:
    """Each palette word's share of the surface, largest first (words under 1% left out)."""
    names = name_colours(surface_colours(mesh, count))
    shares = np.bincount(names, minlength=len(WORDS)) / len(names)
    order = np.argsort(-shares)
    return {WORDS[i]: float(shares[i]) for i in order if shares[i] >= 0.01}


def shown_colours(mesh: trimesh.Trimesh, min_share: float = 0.1) -> list[str]:
    return [word for word, share in colour_shares(mesh).items() if share >= min_share]


def named_colour(prompt: str) -> str | None:
    """The palette word a prompt names (the first, if several), or None."""
    words = prompt.lower().replace(",", " ").split()
    return next((word for word in words if word in COLOURS), None)
