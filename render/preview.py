"""Previews: several views in one PNG, a turntable animation, a contact sheet of many assets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from render.backend import RasterBackend, RenderError
from render.camera import Cameras
from render.mesh import RenderMesh
from render.renderer import render_mesh

ANIMATION_SUFFIXES = (".gif", ".webp")


def render_views(
    mesh: RenderMesh,
    views: int = 4,
    *,
    resolution: int = 256,
    elevation: float = 20.0,
    shading: str = "lambert",
    background: Sequence[float] = (1.0, 1.0, 1.0),
    backend: str | RasterBackend = "auto",
    batch: int = 8,
) -> list[Image.Image]:
    """``views`` RGBA images evenly spaced around the object, starting at its front (+Z)."""
    if not 1 <= views <= 360:
        raise RenderError(f"views must be in 1..360, got {views}")
    cameras = Cameras.turntable(views, elevation, resolution=resolution, start_degrees=30.0)
    images: list[Image.Image] = []
    for start in range(0, views, batch):  # bounded memory for long turntables
        chunk = cameras[start : start + batch]
        images += render_mesh(
            mesh, chunk, shading=shading, background=background, backend=backend
        ).images()
    return images


def grid(images: Sequence[Image.Image], columns: int | None = None) -> Image.Image:
    """Tile equally sized images left to right, top to bottom."""
    if not images:
        raise RenderError("nothing to tile: no images")
    columns = columns or len(images)
    rows = -(-len(images) // columns)
    width, height = images[0].size
    sheet = Image.new("RGBA", (columns * width, rows * height), (255, 255, 255, 0))
    for index, image in enumerate(images):
        sheet.paste(image, ((index % columns) * width, (index // columns) * height))
    return sheet


def save_views(mesh: RenderMesh, path: str | Path, views: int = 4, **options) -> Path:
    """A PNG of ``views`` views side by side."""
    path = Path(path)
    grid(render_views(mesh, views, **options)).save(path)
    return path


def save_turntable(
    mesh: RenderMesh,
    path: str | Path,
    frames: int = 36,
    *,
    fps: float = 12.0,
    background: Sequence[float] = (1.0, 1.0, 1.0),
    **options,
) -> Path:
    """A looping turntable animation, GIF or WebP by the suffix of ``path``."""
    path = Path(path)
    if path.suffix.lower() not in ANIMATION_SUFFIXES:
        raise RenderError(f"a turntable is written as {' or '.join(ANIMATION_SUFFIXES)}: {path}")
    if not 0.5 <= fps <= 60:
        raise RenderError(f"fps must be in 0.5..60, got {fps}")
    images = render_views(mesh, frames, background=background, **options)
    # GIF has 1-bit transparency: composite over the background for clean edges.
    frames_rgb = [image.convert("RGB") for image in images]
    frames_rgb[0].save(
        path,
        save_all=True,
        append_images=frames_rgb[1:],
        duration=round(1000.0 / fps),
        loop=0,
        **({"lossless": False, "quality": 85} if path.suffix.lower() == ".webp" else {}),
    )
    return path


def contact_sheet(
    images: Sequence[Image.Image],
    labels: Sequence[str] | None = None,
    *,
    columns: int = 6,
    tile: int = 192,
    label_height: int = 22,
) -> Image.Image:
    """A grid of thumbnails with an optional caption under each (library overviews)."""
    if not images:
        raise RenderError("a contact sheet needs at least one image")
    if labels is not None and len(labels) != len(images):
        raise RenderError(f"{len(images)} images but {len(labels)} labels")
    columns = max(1, min(columns, len(images)))
    caption = label_height if labels is not None else 0
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * tile, rows * (tile + caption)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for index, image in enumerate(images):
        x, y = (index % columns) * tile, (index // columns) * (tile + caption)
        thumbnail = image.convert("RGBA")
        thumbnail.thumbnail((tile, tile))
        offset = ((tile - thumbnail.width) // 2, (tile - thumbnail.height) // 2)
        sheet.paste(thumbnail, (x + offset[0], y + offset[1]), thumbnail)
        if labels is not None:
            text = labels[index]
            while text and draw.textlength(text, font=font) > tile - 6:
                text = text[:-2] + "…" if len(text) > 2 else ""
            draw.text((x + 3, y + tile + 4), text, fill=(40, 40, 40), font=font)
    return sheet
