"""Contact sheet of procedural shapes, sphere-traced straight from their SDFs.

A look at the library without a mesher or a rasterizer: one three-quarter view per shape,
Lambert-shaded with the colour field.

    .venv/bin/python scripts/preview_shapes.py --seeds 3 --out shapes.png
    .venv/bin/python scripts/preview_shapes.py --categories chair mug --seeds 8 --out a.png
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from gen3d.data.procedural import ProceduralShape, generate_shape, list_categories


def _camera_rays(size: int, azimuth: float, elevation: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic rays looking at the origin from the given angles (degrees)."""
    az, el = np.radians(azimuth), np.radians(elevation)
    forward = -np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    u, v = np.meshgrid(np.linspace(-1.1, 1.1, size), np.linspace(1.1, -1.1, size))
    origins = u[..., None] * right + v[..., None] * up - 3.0 * forward
    return origins.reshape(-1, 3), np.broadcast_to(forward, (size * size, 3))


def render(shape: ProceduralShape, size: int = 160) -> Image.Image:
    origins, direction = _camera_rays(size, azimuth=35.0, elevation=25.0)
    t = np.zeros(len(origins))
    active = np.ones(len(origins), dtype=bool)
    for _ in range(96):  # sphere tracing: step by the distance, which never overshoots
        d = shape.sdf(origins[active] + t[active, None] * direction[active])
        t[active] += d
        active[active] = (d > 1e-3) & (t[active] < 6.0)
    hit = t < 6.0
    points = origins[hit] + t[hit, None] * direction[hit]
    eps = 1e-3
    normal = np.stack(
        [shape.sdf(points + e) - shape.sdf(points - e) for e in np.eye(3) * eps], axis=-1
    )
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True) + 1e-12
    light = np.array([0.4, 0.8, 0.6]) / np.linalg.norm([0.4, 0.8, 0.6])
    shade = 0.35 + 0.65 * np.clip(normal @ light, 0.0, 1.0)
    image = np.ones((size * size, 3))
    image[hit] = shape.colour(points) * shade[:, None]
    return Image.fromarray((image.reshape(size, size, 3) * 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", nargs="*", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--out", default="shapes.png")
    args = parser.parse_args()
    categories = args.categories or list_categories()
    sheet = Image.new("RGB", (args.size * args.seeds, (args.size + 14) * len(categories)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, category in enumerate(categories):
        for seed in range(args.seeds):
            shape = generate_shape(category, seed)
            x, y = seed * args.size, row * (args.size + 14)
            sheet.paste(render(shape, args.size), (x, y + 14))
            draw.text((x + 2, y), f"{category} {seed}", fill="black")
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
