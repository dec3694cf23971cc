"""``gen3d preview``: pictures of meshes: views side by side, a turntable, a contact sheet."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from gen3d.errors import Gen3DError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
ANIMATION_SUFFIXES = (".gif", ".webp")
MAX_PREVIEW_FACES = 5_000_000
MAX_SHEET_MESHES = 1000  # a sheet of more is a poster nobody reads, and minutes of renders


class PreviewError(Gen3DError):
    """A mesh that cannot be previewed, or an output that cannot be written."""


def load_render_mesh(path: Path):  # -> render.mesh.RenderMesh
    """Any mesh file trimesh reads (open surfaces too), centred and scaled to fill the frame."""
    import numpy as np
    import trimesh

    from render.mesh import RenderMesh

    if not path.is_file():
        raise PreviewError(f"{path}: no such file")
    from gen3d.data.meshes import SiblingFiles
    from gen3d.mesh.scene import GLTF_SUFFIXES, flatten_scene
    from gen3d.mesh.usd import USD_SUFFIXES, load_usd

    try:
        if path.suffix.lower() in USD_SUFFIXES:
            mesh = load_usd(path)
        else:
            loaded = trimesh.load(path, process=False, resolver=SiblingFiles(path))
            mesh = flatten_scene(loaded, gltf=path.suffix.lower() in GLTF_SUFFIXES)
    except Exception as error:  # trimesh raises many types for unreadable files
        raise PreviewError(f"{path}: cannot read it as a mesh ({error})") from error
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise PreviewError(f"{path}: has no faces to draw")
    if len(mesh.faces) > MAX_PREVIEW_FACES:
        raise PreviewError(f"{path}: {len(mesh.faces):,} faces is over {MAX_PREVIEW_FACES:,}")
    if not np.isfinite(mesh.vertices).all():
        raise PreviewError(f"{path}: vertex positions contain NaN or infinity")
    return RenderMesh.from_trimesh(mesh).normalised()


def mesh_files(paths: list[Path]) -> list[Path]:
    """The meshes to draw: files as given, and each folder's mesh files (searched
    recursively, in name order), so that ``gen3d preview library/ -o sheet.png`` draws a
    whole asset library."""
    from gen3d.data.meshes import SUPPORTED_SUFFIXES

    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(
            p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES and p.is_file()
        )
        if not inside:
            raise PreviewError(
                f"{path}: the folder holds no mesh files ({', '.join(SUPPORTED_SUFFIXES)})"
            )
        found += inside
    if len(found) > MAX_SHEET_MESHES:
        raise PreviewError(
            f"{len(found):,} meshes is over {MAX_SHEET_MESHES:,} for one contact sheet; "
            "split them into several"
        )
    return found


def _check_output(out: Path, suffixes: tuple[str, ...], what: str) -> None:
    if out.suffix.lower() not in suffixes:
        raise PreviewError(f"{out}: write {what} as {', '.join(suffixes)}")
    if not out.parent.is_dir():
        raise PreviewError(f"{out}: the folder {out.parent} does not exist")


def preview_command(
    meshes: list[Path] = typer.Argument(
        ..., help="Mesh files (GLB, OBJ, PLY, STL, ...), or folders of them."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Image (.png/.jpg/.webp) or animation."),
    views: int = typer.Option(4, min=1, max=36, help="Views around one mesh, side by side."),
    turntable: bool = typer.Option(False, help="A turntable animation (.gif/.webp) instead."),
    frames: int = typer.Option(36, min=2, max=360, help="Turntable frames."),
    fps: float = typer.Option(12.0, min=0.5, max=60.0, help="Turntable frames per second."),
    resolution: int = typer.Option(384, min=16, max=4096, help="Pixels per view (square)."),
    shading: str = typer.Option("lambert", help="lambert, albedo or normals."),
    elevation: float = typer.Option(20.0, min=-89.0, max=89.0, help="Camera height, degrees."),
    columns: int = typer.Option(6, min=1, max=64, help="Contact-sheet columns."),
) -> None:
    """Render previews. One mesh: VIEWS views in a row (or, with --turntable, an animation).
    Several meshes: a contact sheet with one labelled view of each.

    \b
    Examples:
      gen3d preview chair.glb -o chair.png --views 4
      gen3d preview chair.glb -o chair.gif --turntable
      gen3d preview library/*.glb -o sheet.png
      gen3d preview library/ -o sheet.png     # every mesh in the folder
    """
    from render.backend import RenderError
    from render.preview import contact_sheet, grid, render_views, save_turntable
    from render.renderer import SHADING_MODES

    if shading not in SHADING_MODES:
        raise PreviewError(f"unknown shading {shading!r}; choose one of {', '.join(SHADING_MODES)}")
    options = {"resolution": resolution, "shading": shading, "elevation": elevation}
    console = Console(stderr=True)
    meshes = mesh_files(meshes)
    try:
        if turntable:
            if len(meshes) != 1:
                raise PreviewError("a turntable shows one mesh; got several")
            _check_output(out, ANIMATION_SUFFIXES, "a turntable")
            with console.status(f"rendering {frames} frames"):
                save_turntable(load_render_mesh(meshes[0]), out, frames, fps=fps, **options)
        elif len(meshes) == 1:
            _check_output(out, IMAGE_SUFFIXES, "an image")
            image = grid(render_views(load_render_mesh(meshes[0]), views, **options))
            (image.convert("RGB") if out.suffix.lower() in (".jpg", ".jpeg") else image).save(out)
        else:
            _check_output(out, IMAGE_SUFFIXES, "a contact sheet")
            thumbnails = []
            with console.status("rendering") as status:
                for index, path in enumerate(meshes):
                    status.update(f"rendering {index + 1}/{len(meshes)}: {path.name}")
                    thumbnails += render_views(load_render_mesh(path), 1, **options)
            labels = [path.name for path in meshes]
            contact_sheet(thumbnails, labels, columns=columns, tile=min(resolution, 256)).save(out)
    except RenderError as error:
        raise PreviewError(str(error)) from error
    except OSError as error:
        raise PreviewError(f"{out}: cannot write it ({error.strerror or error})") from error
    console.print(f"wrote {out}")
