#!/usr/bin/env python
"""How well ``gen3d.images.object_mask`` finds the object in photos on real-world backdrops.

A photo without an alpha channel is cut out by its backdrop: what differs from it is the
object. Studio sweeps darken towards the floor, lenses darken the corners (vignetting), and
phone photos are lit from one side, so a backdrop is rarely one colour. This renders unseen
procedural shapes from random views (Lambert, head light) and puts each on ten backdrops:
plain, a gentle and a strong paper sweep, vignetting, a blue studio gradient, side light with
vignetting, plain with specks of dust, the strong sweep with the frame cutting off the
object's bottom, and two with the object's shadow on the floor (a soft contact shadow under
it on the gentle sweep; a cast shadow thrown to one side on plain). It adds sensor noise and
JPEG compression, and compares the mask with the true one (the shadow is no part of it): IoU,
and how far the crop box that frames the object (``prepare_image``) is off, as a share of the
object's size. The baselines in the same run are the former rules: one backdrop colour, the
border's median; and the fitted backdrop with shadows kept. It also counts the photos
warned of a busy background (``Cutout.warning``), on those backdrops (false alarms) and on
three backgrounds that are no backdrop: a room, a table's grain, a window beside a wall.

    scripts/bench_backdrops.py                      # 24 shapes x 10 backdrops, ~1 min on CPU
    scripts/bench_backdrops.py --shapes 8 --out backdrops.json
    scripts/bench_backdrops.py --pipeline-data data/shapes   # and image to 3D (~15 min more)
    scripts/bench_backdrops.py --pipeline-data data/shapes --pipeline-parts shadows
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from gen3d.data.procedural import generate_shape, list_categories
from gen3d.data.renders import random_view
from gen3d.images import BACKGROUND_TOLERANCE, cut_out, object_mask
from gen3d.mesh import extract_hierarchical, vertex_colours
from render import Cameras, RenderMesh, render_mesh

#: photo size (width, height) and the share of the frame's height the object spans at most
PHOTO = (480, 400)
FRAMING_MARGIN = 0.2


def border_median_mask(image: Image.Image) -> np.ndarray:
    """The baseline: object = farther than the tolerance from the border's median colour."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    return np.linalg.norm(rgb - np.median(border, axis=0), axis=-1) > BACKGROUND_TOLERANCE


def shadows_kept_mask(image: Image.Image) -> np.ndarray:
    """The rule before shadows were told from the object: the fitted backdrop alone."""
    return cut_out(image, drop_shadows=False).mask


def scene(backdrop: np.ndarray, alpha: np.ndarray, name: str) -> np.ndarray:
    """``backdrop`` as the object sits on it: with its shadow for the shadow scenes."""
    if name.endswith("-shadow"):
        return with_shadow(backdrop, alpha, name.removesuffix("-shadow"))
    return backdrop


def backdrops(height: int, width: int) -> dict[str, np.ndarray]:
    """Backdrops ``(H, W, 3)`` in [0, 1]."""
    y, x = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    radius2 = ((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.5  # 1 at the corners
    grey = np.ones((height, width, 3))
    blue_top, blue_bottom = np.array([0.35, 0.55, 0.85]), np.array([0.78, 0.86, 0.95])
    return {
        "plain": grey * np.array([0.92, 0.92, 0.90]),
        "soft-sweep": grey * (0.95 - 0.12 * y)[..., None],
        "sweep": grey * (0.97 - 0.35 * y)[..., None],
        "vignette": grey * (0.92 * (1.0 - 0.35 * radius2))[..., None],
        "studio-blue": blue_top + (blue_bottom - blue_top) * y[..., None],
        "side-lit": grey * ((0.95 - 0.4 * x) * (1.0 - 0.25 * radius2))[..., None],
        "specks": grey * np.array([0.92, 0.92, 0.90]),  # plain, with dust as below
        "cut-off": grey * (0.97 - 0.35 * y)[..., None],  # the sweep, cut as below
        "contact-shadow": grey * (0.95 - 0.12 * y)[..., None],  # the gentle sweep, shadowed
        "cast-shadow": grey * np.array([0.92, 0.92, 0.90]),  # plain, shadowed (with_shadow)
    }


def with_shadow(backdrop: np.ndarray, alpha: np.ndarray, kind: str) -> np.ndarray:
    """``backdrop`` darkened by the object's shadow on the floor: ``"contact"``, a soft dark
    ellipse under its base (a product shot lit from above), or ``"cast"``, its silhouette
    squashed onto the floor and thrown to one side (lit from the upper left)."""
    height, width = alpha.shape
    rows, cols = np.nonzero(alpha > 0.5)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    tall, wide = bottom - top + 1, right - left + 1
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    if kind == "contact":
        centre_x = cols[rows >= bottom - 0.1 * tall].mean()  # under the object's base
        ellipse = ((x - centre_x) / (0.55 * wide)) ** 2 + ((y - bottom) / (0.05 * tall + 3)) ** 2
        shadow, darkness = (ellipse <= 1.0).astype(np.float64), 0.5
    else:
        # The silhouette, squashed to a third about its base and sheared to the right.
        source_y = bottom - (bottom - y) * 3.0
        source_x = x - (bottom - y) * 3.0 * 0.6
        shadow = ndimage.map_coordinates(alpha, [source_y, source_x], order=1, cval=0.0)
        shadow *= y <= bottom + 2
        darkness = 0.4
    shadow = ndimage.gaussian_filter(shadow, 0.02 * min(height, width))
    return backdrop * (1.0 - darkness * shadow)[..., None]


def busy_backgrounds(height: int, width: int, seed: int) -> dict[str, np.ndarray]:
    """Backgrounds that are no backdrop, ``(H, W, 3)`` in [0, 1]: a room (flat patches of
    many colours), a table's grain (smoothed noise), a window beside a wall."""
    rng = np.random.default_rng(seed)
    room = np.ones((height, width, 3)) * rng.uniform(0.3, 0.9, 3)
    for _ in range(12):
        top, left = rng.integers(0, height), rng.integers(0, width)
        room[top : top + rng.integers(40, 200), left : left + rng.integers(40, 250)] = rng.uniform(
            0, 1, 3
        )
    grain = ndimage.gaussian_filter(rng.normal(0, 1, (height, width, 3)), (6, 6, 0))
    window = np.full((height, width, 3), 0.35)
    window[:, : width // 2] = 0.95
    return {
        "room": room,
        "table grain": np.clip(0.55 + grain / grain.std() * 0.15, 0, 1),
        "window and wall": window,
    }


def object_render(category: str, seed: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A shape's colour and antialiased coverage ``(H, W, 3), (H, W)``, framed in a photo."""
    return object_render_of(generate_shape(category, seed), rng)


def object_render_of(shape, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``object_render`` of a procedural shape, from a random view."""
    mesh = extract_hierarchical(shape, 64).mesh
    vertex_colours(shape, mesh)
    drawable = RenderMesh.from_trimesh(mesh)
    azimuth, elevation = random_view(rng)
    width, height = PHOTO
    cameras = Cameras.orbit([azimuth], elevation, resolution=(height, width))
    cameras = cameras.framed(drawable.vertices, FRAMING_MARGIN)
    out = render_mesh(drawable, cameras, shading="lambert")
    return out.color[0].clamp(0, 1).numpy(), out.alpha[0, ..., 0].clamp(0, 1).numpy()


def photograph(colour: np.ndarray, alpha: np.ndarray, backdrop: np.ndarray, seed: int) -> Image:
    """The object over the backdrop, with sensor noise, through JPEG at quality 85."""
    rng = np.random.default_rng(seed)
    pixels = colour * alpha[..., None] + backdrop * (1.0 - alpha[..., None])
    pixels = np.clip(pixels + rng.normal(0.0, 0.01, pixels.shape), 0.0, 1.0)
    buffer = io.BytesIO()
    Image.fromarray((pixels * 255 + 0.5).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    return Image.open(io.BytesIO(buffer.getvalue()))


def crop_error(mask: np.ndarray, truth: np.ndarray) -> float:
    """The largest difference between the two masks' bounding boxes, over the true box's
    longest side (1.0 for an empty mask)."""
    if not mask.any():
        return 1.0
    boxes = []
    for m in (mask, truth):
        rows, cols = np.nonzero(m)
        boxes.append(np.array([rows.min(), rows.max(), cols.min(), cols.max()], dtype=float))
    size = max(boxes[1][1] - boxes[1][0], boxes[1][3] - boxes[1][2]) + 1
    return float(np.abs(boxes[0] - boxes[1]).max() / size)


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    return float((mask & truth).sum() / max((mask | truth).sum(), 1))


def run(shapes: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    categories = list_categories()
    methods: dict[str, Callable[[Image.Image], np.ndarray]] = {
        "border median (before)": border_median_mask,
        "shadows kept (before)": shadows_kept_mask,
        "object_mask": object_mask,
    }
    scores: dict = {m: {} for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    width, height = PHOTO
    for index in range(shapes):
        category = categories[index % len(categories)]
        colour, alpha = object_render(category, 90_000 + index, rng)
        for name, backdrop in backdrops(height, width).items():
            photo = photograph(colour, alpha, scene(backdrop, alpha, name), seed + index)
            truth = alpha > 0.5
            if name == "specks":  # dust: 30 dark dots of 1-3 pixels
                pixels = np.asarray(photo, dtype=np.float64) / 255.0
                dots = np.random.default_rng(seed + index)
                for _ in range(30):
                    y, x, r = dots.integers(0, height), dots.integers(0, width), dots.integers(1, 3)
                    pixels[max(y - r, 0) : y + r, max(x - r, 0) : x + r] = 0.2
                photo = Image.fromarray((pixels * 255 + 0.5).astype(np.uint8))
            if name == "cut-off":  # the frame cuts off the object's bottom fifth
                rows = np.nonzero(truth.any(axis=1))[0]
                keep = int(rows.max() - 0.2 * (rows.max() - rows.min()))
                photo = photograph(colour[:keep], alpha[:keep], backdrop[:keep], seed + index)
                truth = truth[:keep]
            for method, mask_of in methods.items():
                start = time.perf_counter()
                mask = mask_of(photo)
                seconds[method] += time.perf_counter() - start
                found = scores[method].setdefault(name, {"iou": [], "crop": [], "shapes": []})
                found["iou"].append(iou(mask, truth))
                found["crop"].append(crop_error(mask, truth))
                found["shapes"].append(category)
    # Which photos get the busy-background warning: on the backdrops above (false alarms)
    # and on backgrounds that are none.
    rng = np.random.default_rng(seed)
    warned: dict[str, list[bool]] = {}
    for index in range(shapes):
        colour, alpha = object_render(categories[index % len(categories)], 90_000 + index, rng)
        scenes = {**backdrops(height, width), **busy_backgrounds(height, width, seed + index)}
        for name, background in scenes.items():
            if name == "cut-off":  # the frame cuts off the object's bottom fifth, as above
                rows = np.nonzero((alpha > 0.5).any(axis=1))[0]
                keep = int(rows.max() - 0.2 * (rows.max() - rows.min()))
                photo = photograph(colour[:keep], alpha[:keep], background[:keep], seed + index)
            else:
                photo = photograph(colour, alpha, scene(background, alpha, name), seed + index)
            warned.setdefault(name, []).append(cut_out(photo).warning is not None)
    photos = shapes * len(backdrops(2, 2))
    report = {"shapes": shapes, "photo": PHOTO, "machine": platform.processor() or "cpu"}
    report["methods"] = list(methods)
    for method in methods:
        report[method] = {
            name: {
                "iou_mean": round(float(np.mean(v["iou"])), 4),
                "iou_over_0.95": round(float(np.mean(np.array(v["iou"]) >= 0.95)), 3),
                "crop_within_2pct": round(float(np.mean(np.array(v["crop"]) <= 0.02)), 3),
                "worst": v["shapes"][int(np.argmin(v["iou"]))],
            }
            for name, v in scores[method].items()
        }
        report[method]["ms_per_photo"] = round(1000 * seconds[method] / photos, 2)
    report["warned"] = {name: round(float(np.mean(found)), 3) for name, found in warned.items()}
    return report


def run_pipeline(data: str, shapes: int, seed: int, model: str | None, parts: list[str]) -> dict:
    """Image to 3D from photos of held-out shapes, each scene with today's cut-out rule and
    the rule it replaced (``parts``: ``sweep``, the strong sweep against the border's median
    colour; ``shadows``, the gentle sweep with a contact shadow and the plain backdrop with a
    cast one, against keeping the shadows), and on white (the best case): mean F@0.05 /
    F@0.02 / parts found (as ``gen3d eval``: the mesh as generated) over ``shapes`` shapes
    from random views."""
    import gen3d.images
    from gen3d import Pipeline
    from gen3d.eval.harness import HeldOut, image_scores
    from gen3d.images import Cutout

    def border_median(image: Image.Image, drop_shadows: bool = True) -> Cutout:
        return Cutout(border_median_mask(image), "backdrop")

    def shadows_kept(image: Image.Image, drop_shadows: bool = True) -> Cutout:
        return cut_out(image, drop_shadows=False)

    held = HeldOut.load(data, split="test")
    chosen = [i for i, shape in enumerate(held.shapes) if shape is not None][:shapes]
    pipe = Pipeline.from_pretrained(model) if model else Pipeline.from_pretrained()
    rng = np.random.default_rng(seed)
    width, height = PHOTO
    scenes = backdrops(height, width)
    rows: dict[str, tuple[str, Callable]] = {"white backdrop": ("white", cut_out)}
    if "sweep" in parts:
        rows["sweep, border median (before)"] = ("sweep", border_median)
        rows["sweep"] = ("sweep", cut_out)
    if "shadows" in parts:
        for name in ("contact-shadow", "cast-shadow"):
            rows[f"{name}, shadows kept (before)"] = (name, shadows_kept)
            rows[name] = (name, cut_out)
    found: dict[str, list] = {name: [] for name in rows}
    for done, index in enumerate(chosen, start=1):
        colour, alpha = object_render_of(held.shapes[index], rng)
        for name, (backdrop_name, rule) in rows.items():
            backdrop = (
                np.ones((height, width, 3))
                if backdrop_name == "white"
                else scene(scenes[backdrop_name], alpha, backdrop_name)
            )
            gen3d.images.cut_out = rule  # prepare_input's rule
            try:
                photo = photograph(colour, alpha, backdrop, seed + index)
                mesh = pipe(image=photo, seed=done, texture_size=0).mesh
            finally:
                gen3d.images.cut_out = cut_out
            found[name].append(image_scores(mesh, held, index))
        print(f"{done}/{len(chosen)} {held.categories[index]}", flush=True)
    return {
        name: {
            key: round(float(np.mean([r[key] for r in scores if r[key] is not None])), 3)
            for key in ("f@0.05", "f@0.02", "parts_found")
        }
        for name, scores in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the report as JSON here")
    parser.add_argument(
        "--pipeline-data",
        help="a dataset folder: also run image to 3D (the default model, or --model) on its "
        "test split's photos on the strong sweep",
    )
    parser.add_argument("--pipeline-shapes", type=int, default=16)
    parser.add_argument("--model", help="a pipeline folder (default: the packaged model)")
    parser.add_argument(
        "--pipeline-parts",
        default="sweep,shadows",
        help="the image-to-3D scenes: sweep, shadows (comma-separated)",
    )
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    report = run(args.shapes, args.seed)
    if args.pipeline_data:
        report["pipeline"] = run_pipeline(
            args.pipeline_data,
            args.pipeline_shapes,
            args.seed,
            args.model,
            args.pipeline_parts.split(","),
        )
        for name, scores in report["pipeline"].items():
            print(
                f"image to 3D, {name}: F@0.05 / F@0.02 / parts found "
                f"{scores['f@0.05']} / {scores['f@0.02']} / {scores['parts_found']}"
            )
    print(f"{'backdrop':<14} {'method':<22} {'IoU':>7} {'IoU>=0.95':>10} {'crop<=2%':>9}")
    for name in backdrops(2, 2):
        for method in report["methods"]:
            row = report[method][name]
            print(
                f"{name:<14} {method:<22} {row['iou_mean']:>7.4f} {row['iou_over_0.95']:>10.3f} "
                f"{row['crop_within_2pct']:>9.3f}  worst: {row['worst']}"
            )
    for method in report["methods"]:
        print(f"{method}: {report[method]['ms_per_photo']} ms per photo")
    print(
        "warned of a busy background: "
        + ", ".join(f"{name} {share:.0%}" for name, share in report["warned"].items())
    )
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
