"""Benchmark view estimation (``render.pose.estimate_view``): how close the estimated camera
comes to the one a photo was taken from, and what that does to texture refinement.

    .venv/bin/python scripts/bench_pose.py                  # 24 shapes (~5 min, CPU)
    .venv/bin/python scripts/bench_pose.py --parts views --shapes 66

``views``: procedural shapes of seeds the default model never saw (1000 and up), spread over
the categories, meshed at 96^3 with their own colours and rendered (Lambert, head light, on
white, framed as gen3d frames a photo) from a random direction: azimuth anywhere, elevation
0-45 degrees. The view is estimated from each photo against the same mesh with its colours
(painting a mesh like the photo), and against the mesh without colour (silhouette only). The
error is the angle between the true and the estimated viewing directions. The baseline is
what gen3d did before: assume the reference view (azimuth 30, elevation 20). With
``--prepared``, each photo is given as a picture and framed by gen3d's own preparation
(``gen3d.images.prepare_input``), as the pipeline frames a user's photo.

``paint``: painting a mesh like a photo of it (``gen3d texture MESH --image PHOTO
--refine-steps 100``): the same meshes without their colours, painted by the default model
from a photo (seed 0, 1024^2 texture; evenly lit, ``--shading lambert``: lit by a head
light, ``--shading coloured``: an orange lamp above the camera and a dim blue sky, or
``--shading glossy``: a white lamp above the camera on a glossy surface, with highlights,
``--shading shadowed``: a white lamp above and to the right of the camera, with the shadows
the shape casts on itself, ray cast), refined
from the reference view (the baseline), the view ``auto`` estimates, and the true view, or not
refined; and from the estimated view without fitting the photo's lighting
(``fit_lighting=False``, as gen3d refined before ``render.lighting``) or fitting it as grey
light (``light_colour=False``, as gen3d did before it fitted the light's colour), or keeping
highlights (``highlights=False``, as gen3d did before ``render.highlights``), or keeping
cast shadows (``shadows=False``, as gen3d did before ``render.shadows``). Scored by
PSNR of the painted mesh's unlit colour against the true colours, seen from the photo's
direction and from 45 degrees either side of it, over the object.

``refine``: image to 3D from such photos with the default model (seed 0, 1024^2 texture),
its texture refined for 100 steps against the photo as seen from the assumed reference view
(the baseline), the estimated view and the true view (the best an estimate can do), and not
at all. Scored by PSNR of the asset's unlit colour against the true shape's, both seen from
the photo's true direction (each framed on itself), over the pixels both cover. Once with
photos from random directions, once with photos from the reference view itself, where
estimating must not do worse than assuming.

``roll``: photos taken askew, turned by a random roll up to ``--max-roll`` degrees either
way (evenly lit), painted as in ``paint``: the view estimated with its roll (gen3d's default)
against level (``max_roll=0``, as gen3d estimated before), and refined from each and from the
true camera; view and roll errors, seconds per estimate, and PSNR at the photo's view.

``pipeline-refine``: image to 3D as the pipeline runs it with 0, 50 and ``--refine-steps``
refinement steps (the view estimated), and with 50 from the photo's true view, scored at the
photo's view and 45, 90 and 180 degrees round the object from it; and how far the view
estimated on each generated mesh is from the photo's true one. With a view net in the model
(``gen3d.view_net``), 50 steps from the view estimated without it too, in the same run.

``straighten``: image to 3D from photos of held-out shapes (``--data``'s test split), level
and turned 8-15 degrees, with the pipeline's straightening and without; F-scores as ``gen3d
eval`` scores them, seconds per asset.

``tilt``: the upright-edge reading alone (``gen3d.edge_tilt``, what straightening tries
first): ``--shapes`` photos level and turned 3-15 degrees, as rendered and as noisy JPEGs;
level photos read as turned, turned ones read, and the error, for a few thresholds.

``symmetry``: painting a mesh like a Lambert-lit photo of it, as in ``paint``, refined 50
steps from the estimated view and from the true view, each with the refined colours
carried round a symmetric shape or mirrored onto a mirror-symmetric one's far half
(``render.symmetry``, gen3d's default; the "carried round" rows) and without (as gen3d
refined before); PSNR at the photo's view, 45 and 90 degrees either side and the back, the
turns each shape is symmetric under, and the seconds the carrying costs.

``framing``: how far gen3d frames each ``views`` photo (``gen3d.images.prepare_input``, at the
photo's own 384^2) from where a render framed by the object's exact bounds puts it: the
prepared mask's centre, spread and area against those of such a render at 4x4 samples a
pixel, averaged down.

``highlights``: how often refinement finds a highlight (``render.highlights``) and cast
shadows (``render.shadows``) in the ``paint`` part's photos, for each shading: glossy photos
show highlights (on flat faces turned away from the lamp, only a few pixels of them),
shadowed photos cast shadows, the others neither, so one found there is a false alarm.

Prints Markdown tables and writes bench_results/bench_pose.json (``--parts`` picks parts).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch
import trimesh

from gen3d.data.procedural import generate_shape, list_categories
from gen3d.images import object_mask
from gen3d.mesh import extract_hierarchical, vertex_colours
from render import RenderMesh, render_mesh
from render.pose import PoseSettings, estimate_view

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_VIEW = (30.0, 20.0)
SIZE = 384


def direction(view: tuple[float, float]) -> np.ndarray:
    azimuth, elevation = (math.radians(v) for v in view)
    return np.array(
        [
            math.cos(elevation) * math.sin(azimuth),
            math.sin(elevation),
            math.cos(elevation) * math.cos(azimuth),
        ]
    )


def angle(a: tuple[float, float], b: tuple[float, float]) -> float:
    cosine = float(np.clip(direction(a) @ direction(b), -1.0, 1.0))
    return math.degrees(math.acos(cosine))


#: the coloured photos' light: an orange lamp (its colour) and a dim blue sky from everywhere
LAMP, SKY = (1.0, 0.75, 0.45), (0.12, 0.16, 0.3)
#: the glossy photos' highlight: its strength and Blinn-Phong exponent
GLOSS, SHININESS = 0.6, 50.0


def photo(
    mesh: RenderMesh, view: tuple[float, float], shading: str = "lambert"
) -> tuple[torch.Tensor, torch.Tensor]:
    """A render from ``view`` (lambert: lit by a head light; albedo: evenly lit; coloured:
    ``LAMP`` from above the camera and ``SKY``), framed like a prepared photo, and its object
    mask."""
    from PIL import Image

    from gen3d.pipeline import reference_cameras

    cameras = reference_cameras(mesh.vertices, view, SIZE)
    if shading == "coloured":
        colour = coloured_light_render(mesh, cameras)
    elif shading == "glossy":
        colour = glossy_render(mesh, cameras)
    elif shading == "shadowed":
        colour = shadowed_render(mesh, cameras)
    else:
        colour = render_mesh(mesh, cameras, shading=shading).color[0].clamp(0, 1)
    image = Image.fromarray((colour * 255 + 0.5).to(torch.uint8).numpy())
    mask = torch.from_numpy(object_mask(image))
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0), mask


def _under_lamp(mesh: RenderMesh, cameras, side: float = 0.0) -> tuple[torch.Tensor, ...]:
    """What a lit render of ``mesh`` seen by ``cameras`` (one) needs: its colour premultiplied
    on black, alpha and unit normals per pixel, and the direction towards a lamp shining from
    above the camera (``side``: and that far to its right, 1 for 45 degrees)."""
    albedo = render_mesh(mesh, cameras, shading="albedo", background=(0.0, 0.0, 0.0))
    normals = render_mesh(mesh, cameras, shading="normals").color[0] * 2.0 - 1.0
    normals = torch.nn.functional.normalize(normals, dim=-1)
    right = cameras.view[0, 0, :3]  # the camera's x axis in the world
    towards = torch.nn.functional.normalize(
        -cameras.forward[0] + torch.tensor([0.0, 1.0, 0.0]) + side * right, dim=0
    )
    return albedo.color[0], albedo.alpha[0], normals, towards


def coloured_light_render(mesh: RenderMesh, cameras) -> torch.Tensor:
    """``mesh`` seen by ``cameras`` (one), on white, lit by ``LAMP`` shining from above the
    camera (Lambert) and ``SKY``."""
    colour, alpha, normals, towards = _under_lamp(mesh, cameras)
    lamp = (normals * towards).sum(-1, keepdim=True).clamp_min(0.0) * torch.tensor(LAMP)
    lit = colour * (lamp + torch.tensor(SKY))
    return (lit + (1.0 - alpha)).clamp(0, 1)  # the colour is premultiplied on black


def glossy_render(mesh: RenderMesh, cameras) -> torch.Tensor:
    """``mesh`` seen by ``cameras`` (one), on white, lit by a white lamp shining from above the
    camera (Lambert, 30% ambient) on a glossy surface: a white Blinn-Phong highlight of
    strength ``GLOSS`` and exponent ``SHININESS``."""
    colour, alpha, normals, towards = _under_lamp(mesh, cameras)
    views = -cameras.pixel_rays()[1][0]  # each pixel's own direction to the camera
    halfway = torch.nn.functional.normalize(towards + views, dim=-1)
    lamp = (normals * towards).sum(-1, keepdim=True).clamp_min(0.0)
    shine = (normals * halfway).sum(-1, keepdim=True).clamp_min(0.0).pow(SHININESS) * GLOSS
    lit = colour * (0.3 + 0.7 * lamp) + shine * alpha
    return (lit + (1.0 - alpha)).clamp(0, 1)  # the colour is premultiplied on black


def shadowed_render(mesh: RenderMesh, cameras) -> torch.Tensor:
    """``mesh`` seen by ``cameras`` (one), on white, lit by a white lamp shining from above
    and to the right of the camera (Lambert, 30% ambient), with the shadows the mesh casts on
    itself: each surface facing the lamp is lit only if a ray from it towards the lamp leaves
    the mesh (trimesh's ray casting, not the shadow map ``render.shadows`` fits)."""
    import trimesh

    from render.backend import get_backend

    colour, alpha, normals, towards = _under_lamp(mesh, cameras, side=1.0)
    raster = get_backend("auto", mesh.device)
    rast = raster.rasterize(cameras.to_clip(mesh.vertices), mesh.faces, cameras.resolution)
    points = raster.interpolate(mesh.vertices, rast, mesh.faces).flip(1)[0]
    covered = (rast[..., 3] > 0).flip(1)[0]
    facing = covered & ((normals * towards).sum(-1) > 0)
    shape = trimesh.Trimesh(mesh.vertices.numpy(), mesh.faces.numpy(), process=False)
    origins = (points[facing] + 2e-3 * (normals[facing] + towards)).numpy()
    hidden = shape.ray.intersects_any(origins, np.repeat(towards.numpy()[None], len(origins), 0))
    visible = torch.ones(covered.shape)
    visible[facing] = torch.from_numpy(~hidden).float()
    lamp = (normals * towards).sum(-1, keepdim=True).clamp_min(0.0) * visible[..., None]
    lit = colour * (0.3 + 0.7 * lamp)
    return (lit + (1.0 - alpha)).clamp(0, 1)  # the colour is premultiplied on black


def inputs(count: int, seed: int) -> list[dict]:
    categories = list_categories()
    spread = (round(i * len(categories) / count) % len(categories) for i in range(count))
    chosen = [categories[j] for j in spread]
    rng = random.Random(seed)
    items = []
    for index, category in enumerate(chosen):
        shape = generate_shape(category, 1000 + index)
        mesh = extract_hierarchical(shape, 96).mesh
        vertex_colours(shape, mesh)
        view = (rng.uniform(0.0, 360.0), rng.uniform(0.0, 45.0))
        items.append({"category": category, "shape": shape, "mesh": mesh, "view": view})
    return items


def looks_alike(
    mesh: RenderMesh, view: tuple[float, float], true_view: tuple[float, float]
) -> bool:
    """Whether ``mesh`` looks the same from ``view`` as from ``true_view`` (a symmetric shape
    does from many): silhouettes overlapping by 95% and unlit colours within 0.03 on average,
    at 192^2. Refining from such a view paints what the photo shows onto what it shows."""
    from gen3d.pipeline import reference_cameras

    cameras = [reference_cameras(mesh.vertices, v, 192) for v in (view, true_view)]
    (a, mask_a), (b, mask_b) = (
        (out.color[0], out.mask[0])
        for out in (render_mesh(mesh, c, shading="albedo", antialias=False) for c in cameras)
    )
    both = mask_a & mask_b
    iou = float(both.sum() / (mask_a | mask_b).sum().clamp_min(1))
    return iou >= 0.95 and float((a - b).abs().mean(-1)[both].mean()) <= 0.03


def summary(errors: list[float]) -> dict:
    values = np.asarray(errors)
    return {
        "median": float(np.median(values)),
        "within_10": float((values <= 10.0).mean()),
        "within_20": float((values <= 20.0).mean()),
        "within_45": float((values <= 45.0).mean()),
        "mean": float(values.mean()),
    }


def bench_views(items: list[dict], prepared: bool = False) -> dict:
    from PIL import Image

    from gen3d.image_view import prepared_photo
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION

    rows = {"coloured": [], "coloured, level": [], "silhouette": [], "reference (baseline)": []}
    alike: dict[str, list[bool]] = {name: [] for name in rows}
    seconds, level_seconds, rolls = [], [], []
    for item in items:
        coloured = RenderMesh.from_trimesh(item["mesh"])
        image, mask = photo(coloured, item["view"])
        if prepared:  # given as a picture, framed as gen3d frames one
            picture = Image.fromarray((image * 255 + 0.5).to(torch.uint8).numpy())
            image, mask = prepared_photo(picture, REFINE_RESOLUTION, PREPARE_MARGIN)
        plain = RenderMesh(coloured.vertices, coloured.faces)
        started = time.perf_counter()
        found = estimate_view(coloured, image, mask)
        seconds.append(time.perf_counter() - started)
        rolls.append(found.roll)
        # Level only, as gen3d estimated before it looked for a camera held askew.
        started = time.perf_counter()
        level = estimate_view(coloured, image, mask, settings=PoseSettings(max_roll=0.0))
        level_seconds.append(time.perf_counter() - started)
        silhouette = estimate_view(plain, image, mask)
        rows["coloured"].append(angle(found.view, item["view"]))
        alike["coloured"].append(looks_alike(coloured, found.camera, item["view"]))
        rows["coloured, level"].append(angle(level.view, item["view"]))
        alike["coloured, level"].append(looks_alike(coloured, level.view, item["view"]))
        alike["silhouette"].append(looks_alike(coloured, silhouette.view, item["view"]))
        alike["reference (baseline)"].append(looks_alike(coloured, REFERENCE_VIEW, item["view"]))
        rows["silhouette"].append(angle(silhouette.view, item["view"]))
        rows["reference (baseline)"].append(angle(REFERENCE_VIEW, item["view"]))
        print(
            f"{item['category']:>14} true {item['view'][0]:6.1f} {item['view'][1]:5.1f}  "
            f"coloured {found.azimuth:6.1f} {found.elevation:5.1f} (iou {found.iou:.3f})  "
            f"silhouette {silhouette.azimuth:6.1f} {silhouette.elevation:5.1f}",
            flush=True,
        )
    result = {name: summary(errors) for name, errors in rows.items()}
    for name, found in alike.items():
        result[name]["looks_alike"] = float(np.mean(found))
    result["seconds_per_estimate"] = float(np.mean(seconds))
    result["seconds_per_level_estimate"] = float(np.mean(level_seconds))
    result["level_photos_given_a_roll"] = float(np.mean([roll != 0.0 for roll in rolls]))
    result["faces_mean"] = float(np.mean([len(item["mesh"].faces) for item in items]))
    print("\n| estimate | median error (deg) | within 10 deg | within 20 deg | looks alike |")
    print("|---|---|---|---|---|")
    for name in rows:
        r = result[name]
        print(
            f"| {name} | {r['median']:.1f} | {r['within_10']:.2f} | {r['within_20']:.2f} "
            f"| {r['looks_alike']:.2f} |"
        )
    print(
        f"\n{result['seconds_per_estimate']:.2f} s per estimate, level only "
        f"{result['seconds_per_level_estimate']:.2f} s ({result['faces_mean']:.0f} faces on "
        f"average); level photos given a roll: {result['level_photos_given_a_roll']:.2f}"
    )
    return result


def albedo(mesh: RenderMesh, view: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    from gen3d.pipeline import reference_cameras

    out = render_mesh(mesh, reference_cameras(mesh.vertices, view, SIZE), shading="albedo")
    return out.color[0], out.mask[0]


def table(result: dict, variants: tuple[str, ...], first: str) -> None:
    print(f"\n| {first} | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    for case, by_name in result.items():
        print(f"| {case} | " + " | ".join(f"{by_name[n]:.2f}" for n in variants) + " |")


def bench_paint(items: list[dict], steps: int, shading: str) -> dict:
    import trimesh
    from PIL import Image

    from gen3d import Pipeline
    from gen3d.image_view import estimate_photo_view, prepared_photo
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, refine_from_photo

    pipe = Pipeline.from_pretrained()
    variants = (
        "not refined",
        "reference view (baseline)",
        "estimated view, light kept",
        "estimated view, grey light",
        "estimated view, highlights kept",
        "estimated view, shadows kept",
        "estimated view",
        "true view",
    )
    rows: dict[str, dict[str, list[float]]] = {}
    errors, contrasts, highlights, shadows = [], [], [], []
    for case in ("random direction", "reference view"):
        for where in ("photo's view", "45 deg either side"):
            rows[f"{case}, scored at the {where}"] = {name: [] for name in variants}
        for item in items:
            true_view = item["view"] if case == "random direction" else REFERENCE_VIEW
            sides = [((true_view[0] + turn) % 360.0, true_view[1]) for turn in (-45.0, 45.0)]
            truth = RenderMesh.from_trimesh(item["mesh"])
            image, _ = photo(truth, true_view, shading)
            picture = Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8))
            plain = trimesh.Trimesh(item["mesh"].vertices, item["mesh"].faces, process=False)
            # What `gen3d texture MESH --image PHOTO` paints before refining; the variants
            # then refine it as the pipeline's refine stage does.
            painted = pipe(
                image=picture, shape=plain, keep_geometry=True, seed=0, refine_steps=0
            ).mesh
            prepared = prepared_photo(picture, REFINE_RESOLUTION, PREPARE_MARGIN)
            estimate = estimate_photo_view(painted, prepared, PREPARE_MARGIN, REFERENCE_VIEW)
            errors.append(angle(estimate.view, true_view))
            views = {
                "reference view (baseline)": REFERENCE_VIEW,
                "estimated view, light kept": estimate.camera,
                "estimated view, grey light": estimate.camera,
                "estimated view, highlights kept": estimate.camera,
                "estimated view, shadows kept": estimate.camera,
                "estimated view": estimate.camera,
                "true view": true_view,
            }
            scores = []
            for name in variants:
                mesh = painted
                if name in views:
                    fit = name != "estimated view, light kept"
                    mesh, refined = refine_from_photo(
                        painted,
                        prepared,
                        views[name],
                        steps,
                        trust_bake=pipe.config.trust_bake,
                        fit_lighting=fit,
                        light_colour=name != "estimated view, grey light",
                        highlights=name != "estimated view, highlights kept",
                        shadows=name != "estimated view, shadows kept",
                    )
                    if name == "estimated view":
                        contrasts.append(refined.light_contrast)
                        highlights.append(len(refined.highlights))
                        shadows.append(refined.shadow_light)
                result = RenderMesh.from_trimesh(mesh)
                at_view = albedo_psnr(result, truth, true_view)
                around = float(np.mean([albedo_psnr(result, truth, side) for side in sides]))
                rows[f"{case}, scored at the photo's view"][name].append(at_view)
                rows[f"{case}, scored at the 45 deg either side"][name].append(around)
                scores.append(f"{at_view:5.2f}/{around:5.2f}")
            print(
                f"{case:>16} {item['category']:>14} view off {errors[-1]:5.1f} "
                f"light contrast {contrasts[-1]:.2f} highlights {highlights[-1]} "
                f"shadow light {shadows[-1] or 0:.2f}  " + "  ".join(scores),
                flush=True,
            )
    result = {
        case: {name: float(np.mean(values)) for name, values in by_name.items()}
        for case, by_name in rows.items()
    }
    table(result, variants, f"photo ({shading}) taken from")
    result["estimate_error_median"] = float(np.median(errors))
    result["light_contrast_median"] = float(np.median(contrasts))
    result["photos_with_highlights"] = float(np.mean([found > 0 for found in highlights]))
    print(f"\nmedian error of the estimated view: {result['estimate_error_median']:.1f} deg")
    print(f"median contrast of the fitted light: {result['light_contrast_median']:.2f}")
    result["photos_with_shadows"] = float(np.mean([found is not None for found in shadows]))
    print(f"photos with highlights found: {result['photos_with_highlights']:.2f}")
    print(f"photos with cast shadows found: {result['photos_with_shadows']:.2f}")
    return result


def bench_highlights(items: list[dict], shadings: tuple[str, ...]) -> dict:
    """The share of photos in which refinement finds a highlight, and cast shadows, per
    shading: glossy photos show highlights (on some only a few pixels), shadowed photos cast
    shadows, and no other photo shows either (one found there is a false alarm)."""
    import trimesh
    from PIL import Image

    from gen3d import Pipeline
    from gen3d.image_view import estimate_photo_view, prepared_photo
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, refine_from_photo

    pipe = Pipeline.from_pretrained()
    result = {}
    for shading in shadings:
        found, shadows = [], []
        for case in ("random direction", "reference view"):
            for item in items:
                true_view = item["view"] if case == "random direction" else REFERENCE_VIEW
                image, _ = photo(RenderMesh.from_trimesh(item["mesh"]), true_view, shading)
                picture = Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8))
                plain = trimesh.Trimesh(item["mesh"].vertices, item["mesh"].faces, process=False)
                painted = pipe(
                    image=picture, shape=plain, keep_geometry=True, seed=0, refine_steps=0
                ).mesh
                prepared = prepared_photo(picture, REFINE_RESOLUTION, PREPARE_MARGIN)
                view = estimate_photo_view(painted, prepared, PREPARE_MARGIN, REFERENCE_VIEW).view
                _, refined = refine_from_photo(
                    painted, prepared, view, 1, trust_bake=pipe.config.trust_bake
                )
                found.append(len(refined.highlights))
                shadows.append(refined.shadow_light)
                print(
                    f"{shading:>9} {case:>16} {item['category']:>14} {found[-1]} "
                    f"shadow light {shadows[-1]}",
                    flush=True,
                )
        result[shading] = {
            "highlights": float(np.mean([count > 0 for count in found])),
            "shadows": float(np.mean([light is not None for light in shadows])),
        }
    print("\n| photos | with a highlight found | with cast shadows found |")
    print("|---|---|---|")
    for shading, share in result.items():
        print(f"| {shading} | {share['highlights']:.2f} | {share['shadows']:.2f} |")
    return result


def albedo_psnr(mesh: RenderMesh, truth: RenderMesh, view: tuple[float, float]) -> float:
    """PSNR of ``mesh``'s unlit colour against ``truth``'s, seen from ``view``."""
    colour, mask = albedo(mesh, view)
    true_colour, true_mask = albedo(truth, view)
    return psnr_of(colour, true_colour, mask & true_mask)


def psnr_round(
    mesh: RenderMesh, truth: RenderMesh, view: tuple[float, float], turn: float
) -> float:
    """``albedo_psnr`` from ``view`` turned ``turn`` degrees round the object, the mean of
    both ways (one way for 0 and 180)."""
    sides = (1,) if turn in (0.0, 180.0) else (-1, 1)
    return float(
        np.mean(
            [albedo_psnr(mesh, truth, ((view[0] + side * turn) % 360, view[1])) for side in sides]
        )
    )


def round_table(
    first: str,
    scores: dict[str, dict[float, list[float]]],
    seconds: dict[str, list[float]] | None = None,
) -> dict:
    """Prints a Markdown table of each run's mean PSNR at each turn round the object (the
    turns ``psnr_round`` scored), with its mean seconds when given, and returns the means."""
    turns = list(next(iter(scores.values())))
    headers = ["PSNR at the photo's view", "45 deg round", "90 deg round", "the back"]
    extra = [] if seconds is None else ["s per asset"]
    print(f"\n| {first} | " + " | ".join(headers + extra) + " |")
    print("|---" * (1 + len(headers) + len(extra)) + "|")
    result: dict = {}
    for name, by_turn in scores.items():
        means = {f"{turn:g}": float(np.mean(by_turn[turn])) for turn in turns}
        cells = [f"{means[f'{t:g}']:.2f}" for t in turns]
        if seconds is not None:
            means["seconds"] = float(np.mean(seconds[name]))
            cells.append(f"{means['seconds']:.1f}")
        result[name] = means
        print(f"| {name} | " + " | ".join(cells) + " |")
    return result


def psnr_of(colour: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> float:
    from render import psnr

    return psnr(colour, reference, mask)


def bench_refine(items: list[dict], steps: int) -> dict:
    from PIL import Image

    from gen3d import Pipeline
    from gen3d.image_view import estimate_photo_view, prepared_photo
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, refine_from_photo
    from render import psnr

    pipe = Pipeline.from_pretrained()
    variants = ("not refined", "reference view (baseline)", "estimated view", "true view")
    rows: dict[str, dict[str, list[float]]] = {}
    for case in ("random direction", "reference view"):
        rows[case] = {name: [] for name in variants}
        for item in items:
            true_view = item["view"] if case == "random direction" else REFERENCE_VIEW
            truth = RenderMesh.from_trimesh(item["mesh"])
            image, _ = photo(truth, true_view)
            picture = Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8))
            asset = pipe(image=picture, seed=0, texture_size=1024)
            prepared = prepared_photo(picture, REFINE_RESOLUTION, PREPARE_MARGIN)
            estimate = estimate_photo_view(
                asset.mesh, prepared, PREPARE_MARGIN, prior=REFERENCE_VIEW
            )
            true_colour, true_mask = albedo(truth, true_view)
            views = {
                "reference view (baseline)": REFERENCE_VIEW,
                "estimated view": estimate.camera,
                "true view": true_view,
            }
            scores = []
            for name in variants:
                mesh = asset.mesh
                if name in views:
                    mesh, _ = refine_from_photo(
                        mesh,
                        prepared,
                        views[name],
                        steps,
                        trust_bake=pipe.config.trust_bake,
                        generated=True,
                    )
                colour, mask = albedo(RenderMesh.from_trimesh(mesh), true_view)
                value = psnr(colour, true_colour, mask & true_mask)
                rows[case][name].append(value)
                scores.append(value)
            print(
                f"{case:>16} {item['category']:>14} est {estimate.azimuth:6.1f} "
                f"{estimate.elevation:5.1f} (off {angle(estimate.view, true_view):5.1f})  "
                + "  ".join(f"{v:5.2f}" for v in scores),
                flush=True,
            )
    result = {
        case: {name: float(np.mean(values)) for name, values in by_name.items()}
        for case, by_name in rows.items()
    }
    table(result, variants, "photo taken from")
    return result


def bench_pipeline_refine(items: list[dict], steps: tuple[int, ...]) -> dict:
    """Image to 3D as the pipeline runs it (default model, seed 0, 1024^2 texture, the view
    estimated) with each of ``steps`` refinement steps (0: not refined), and with 50 steps
    from the photo's true view (``view=``: what refinement gives when the view is right),
    from Lambert-lit photos from random directions. Scored by PSNR of the asset's unlit
    colour against the true shape's, seen from the photo's direction and turned 45, 90 and
    180 degrees round the object from it: refinement paints what the photo shows and must
    not spoil the rest."""
    from PIL import Image

    from gen3d import Pipeline

    pipe = Pipeline.from_pretrained()
    turns = (0.0, 45.0, 90.0, 180.0)
    runs = {str(count): {"refine_steps": count} for count in steps}
    runs["50, true view"] = {"refine_steps": 50, "view": None}  # the item's, below
    view_net = pipe.view_net
    if view_net is not None:  # the estimate as it was before the view net, in the same run
        runs["50, without the view net"] = {"refine_steps": 50}
    scores = {name: {turn: [] for turn in turns} for name in runs}
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    view_errors: dict[bool, list[float]] = {}  # by: without the view net
    for item in items:
        truth = RenderMesh.from_trimesh(item["mesh"])
        image, _ = photo(truth, item["view"])
        picture = Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8))
        line = []
        for name, options in runs.items():
            if "view" in options:
                options = {**options, "view": item["view"]}
            pipe.view_net = None if name == "50, without the view net" else view_net
            started = time.perf_counter()
            asset = pipe(image=picture, seed=0, texture_size=1024, **options)
            seconds[name].append(time.perf_counter() - started)
            seen = asset.metadata.get("view", {})
            if seen.get("source") == "estimated":
                # Runs with the same estimator estimate the same view: noted once each.
                errors = view_errors.setdefault(name == "50, without the view net", [])
                if len(errors) == len(scores[name][0.0]):
                    off = angle((seen["azimuth"], seen["elevation"]), item["view"])
                    errors.append(off)
                    line.append(f"view off {off:5.1f} (IoU {seen['iou']:.2f})")
            drawn = RenderMesh.from_trimesh(asset.mesh)
            for turn in turns:
                scores[name][turn].append(psnr_round(drawn, truth, item["view"], turn))
            line.append(" ".join(f"{scores[name][t][-1]:5.2f}" for t in turns))
        print(f"{item['category']:>14}  " + "  |  ".join(line), flush=True)
    result = round_table("refinement steps", scores, seconds)
    for without, errors in view_errors.items():
        key = "view_error_without_view_net" if without else "view_error"
        result[key] = summary(errors)
        print(
            f"\nthe estimated view{' without the view net' if without else ''}, off the "
            f"photo's true one: median {result[key]['median']:.1f} deg, within 20 deg "
            f"{result[key]['within_20']:.2f}, within 45 deg {result[key]['within_45']:.2f}"
        )
    return result


def bench_symmetry(items: list[dict], steps: int = 50) -> dict:
    import trimesh
    from PIL import Image

    from gen3d import Pipeline
    from gen3d.image_view import estimate_photo_view, prepared_photo
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, refine_from_photo
    from render.symmetry import symmetric_turns

    pipe = Pipeline.from_pretrained()
    turns = (0.0, 45.0, 90.0, 180.0)
    variants = (
        "estimated view, not carried (before)",
        "estimated view, carried round",
        "true view, not carried",
        "true view, carried round",
    )
    scores = {name: {turn: [] for turn in turns} for name in variants}
    carry_seconds = []
    for item in items:
        truth = RenderMesh.from_trimesh(item["mesh"])
        image, _ = photo(truth, item["view"], "lambert")
        picture = Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8))
        plain = trimesh.Trimesh(item["mesh"].vertices, item["mesh"].faces, process=False)
        # The paint before refinement (the default model refines an image's asset itself,
        # carrying colours round by default): each variant then refines it once.
        painted = pipe(image=picture, shape=plain, keep_geometry=True, seed=0, refine_steps=0).mesh
        prepared = prepared_photo(picture, REFINE_RESOLUTION, PREPARE_MARGIN)
        estimate = estimate_photo_view(painted, prepared, PREPARE_MARGIN, REFERENCE_VIEW)
        drawn = RenderMesh.from_trimesh(painted)
        symmetric = symmetric_turns(drawn.vertices, drawn.faces)
        line = []
        for name in variants:
            view = estimate.camera if name.startswith("estimated") else item["view"]
            carried = "carried round" in name
            started = time.perf_counter()
            mesh, _ = refine_from_photo(
                painted,
                prepared,
                view,
                steps,
                trust_bake=pipe.config.trust_bake,
                symmetry=carried,
            )
            elapsed = time.perf_counter() - started
            if name == "estimated view, not carried (before)":
                uncarried = elapsed
            elif name == "estimated view, carried round":
                carry_seconds.append(elapsed - uncarried)
            drawn = RenderMesh.from_trimesh(mesh)
            for turn in turns:
                scores[name][turn].append(psnr_round(drawn, truth, item["view"], turn))
            line.append(" ".join(f"{scores[name][t][-1]:5.2f}" for t in turns))
        print(
            f"{item['category']:>14} turns {len(symmetric):2d}  " + "  |  ".join(line),
            flush=True,
        )
    result = round_table("painted, refined from", scores)
    result["carry_seconds"] = summary(carry_seconds)
    print(f"\nseconds carrying adds, median: {result['carry_seconds']['median']:.2f}")
    return result


def bench_roll(items: list[dict], steps: int, max_roll: float, seed: int) -> dict:
    """Photos taken askew: each item's photo (evenly lit) turned by a random roll within
    ``max_roll`` either way. The view is estimated with roll (gen3d's default) and level
    (``max_roll=0``, as gen3d did before); the painted mesh is refined from each and from the
    true camera. Scored by the estimates' direction and roll errors, seconds per estimate, and
    PSNR of the painted colours at the photo's view."""
    from PIL import Image

    from gen3d import Pipeline
    from gen3d.image_view import estimate_photo_view, prepared_photo
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, refine_from_photo

    pipe = Pipeline.from_pretrained()
    rng = random.Random(seed + 1)
    variants = ("not refined", "level estimate (before)", "estimate with roll", "true camera")
    psnrs: dict[str, list[float]] = {name: [] for name in variants}
    errors: dict[str, list[float]] = {"level estimate (before)": [], "estimate with roll": []}
    roll_errors, seconds = [], {name: [] for name in errors}
    for item in items:
        roll = rng.uniform(-max_roll, max_roll)
        camera = (*item["view"], roll)
        truth = RenderMesh.from_trimesh(item["mesh"])
        image, _ = photo(truth, camera)
        picture = Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8))
        plain = trimesh.Trimesh(item["mesh"].vertices, item["mesh"].faces, process=False)
        painted = pipe(image=picture, shape=plain, keep_geometry=True, seed=0, refine_steps=0).mesh
        prepared = prepared_photo(picture, REFINE_RESOLUTION, PREPARE_MARGIN)
        cameras = {"true camera": camera}
        for name, limit in (("level estimate (before)", 0.0), ("estimate with roll", None)):
            started = time.perf_counter()
            estimate = estimate_photo_view(
                painted, prepared, PREPARE_MARGIN, REFERENCE_VIEW, max_roll=limit
            )
            seconds[name].append(time.perf_counter() - started)
            errors[name].append(angle(estimate.view, item["view"]))
            cameras[name] = estimate.camera
        roll_errors.append(abs(cameras["estimate with roll"][2] - roll))
        scores = []
        for name in variants:
            mesh = painted
            if name in cameras:
                mesh, _ = refine_from_photo(
                    painted, prepared, cameras[name], steps, trust_bake=pipe.config.trust_bake
                )
            psnrs[name].append(albedo_psnr(RenderMesh.from_trimesh(mesh), truth, camera))
            scores.append(f"{psnrs[name][-1]:5.2f}")
        print(
            f"{item['category']:>14} roll {roll:+5.1f} "
            f" found {cameras['estimate with roll'][2]:+5.1f}"
            f"  view off {errors['level estimate (before)'][-1]:5.1f} level / "
            f"{errors['estimate with roll'][-1]:5.1f} with roll  PSNR " + " ".join(scores),
            flush=True,
        )
    result = {
        "psnr": {name: float(np.mean(values)) for name, values in psnrs.items()},
        "view_error": {name: summary(values) for name, values in errors.items()},
        "roll_error_median": float(np.median(roll_errors)),
        "roll_within_2": float(np.mean(np.asarray(roll_errors) <= 2.0)),
        "seconds_per_estimate": {name: float(np.mean(v)) for name, v in seconds.items()},
    }
    print(f"\n| photos turned up to {max_roll:g} deg | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    print(
        "| PSNR (dB) at the photo's view | "
        + " | ".join(f"{result['psnr'][name]:.2f}" for name in variants)
        + " |"
    )
    for name in errors:
        view = result["view_error"][name]
        print(
            f"{name}: view error median {view['median']:.1f} deg, within 10 deg "
            f"{view['within_10']:.2f}; {result['seconds_per_estimate'][name]:.2f} s"
        )
    print(
        f"roll error median {result['roll_error_median']:.1f} deg, within 2 deg "
        f"{result['roll_within_2']:.2f}"
    )
    return result


def bench_straighten(data: str, shapes: int, seed: int) -> dict:
    """Image to 3D (default model, vertex colours) from Lambert-lit photos of held-out shapes
    (``data``'s test split) from random directions, level and turned by a random roll of 8-15
    degrees either way, with the pipeline's straightening (the default) and without
    (``straighten=False``, as gen3d did before). Scored as ``gen3d eval`` scores image to 3D
    (F@0.05, F@0.02, parts found), with seconds per asset."""
    from PIL import Image

    from gen3d import Pipeline
    from gen3d.eval.harness import HeldOut, image_scores
    from gen3d.pipeline import reference_cameras

    held = HeldOut.load(data, split="test")
    chosen = [i for i, shape in enumerate(held.shapes) if shape is not None][:shapes]
    pipe = Pipeline.from_pretrained()
    rng = random.Random(seed + 2)
    names = ("level", "turned")
    rows = {(name, on): [] for name in names for on in (False, True)}
    seconds = {key: [] for key in rows}
    turned_back: list[tuple[float, float]] = []
    for done, index in enumerate(chosen):
        shape = held.shapes[index]
        mesh = extract_hierarchical(shape, 96).mesh
        vertex_colours(shape, mesh)
        drawable = RenderMesh.from_trimesh(mesh)
        view = (rng.uniform(0.0, 360.0), rng.uniform(0.0, 45.0))
        rolls = {"level": 0.0, "turned": rng.choice((-1, 1)) * rng.uniform(8.0, 15.0)}
        line = []
        for name in names:
            cameras = reference_cameras(drawable.vertices, (*view, rolls[name]), 256)
            colour = render_mesh(drawable, cameras, shading="lambert").color[0].clamp(0, 1)
            picture = Image.fromarray((colour.numpy() * 255 + 0.5).astype(np.uint8))
            for on in (False, True):
                started = time.perf_counter()
                asset = pipe(image=picture, seed=done, texture_size=0, straighten=on)
                seconds[(name, on)].append(time.perf_counter() - started)
                rows[(name, on)].append(image_scores(asset.mesh, held, index))
                line.append(f"{rows[(name, on)][-1]['f@0.05']:.3f}")
                if on:
                    turned_back.append((rolls[name], asset.metadata.get("straightened", 0.0)))
        print(
            f"{held.categories[index]:>14} roll {rolls['turned']:+5.1f} turned back "
            f"{turned_back[-2][1]:+5.1f} (level) {turned_back[-1][1]:+5.1f}  F@0.05 level "
            f"{line[0]} / {line[1]} straightened, turned {line[2]} / {line[3]}",
            flush=True,
        )
    result: dict = {}
    print("\n| photo | straightening | F@0.05 | F@0.02 | parts found | s per asset |")
    print("|---|---|---|---|---|---|")
    for (name, on), found in rows.items():
        means = {
            key: float(np.mean([r[key] for r in found if r[key] is not None]))
            for key in ("f@0.05", "f@0.02", "parts_found")
        }
        means["seconds"] = float(np.mean(seconds[(name, on)]))
        result[f"{name}, {'straightened' if on else 'as it is (before)'}"] = means
        print(
            f"| {name} | {'on' if on else 'off (before)'} | {means['f@0.05']:.3f} | "
            f"{means['f@0.02']:.3f} | {means['parts_found']:.3f} | {means['seconds']:.1f} |"
        )
    level_turned = [back for roll, back in turned_back if roll == 0.0 and back]
    found = [abs(back - roll) for roll, back in turned_back if roll and back]
    result["level_photos_turned"] = len(level_turned)
    result["turned_photos_straightened"] = len(found)
    result["straightened_error_median"] = float(np.median(found)) if found else None
    print(
        f"level photos turned: {len(level_turned)} of {len(chosen)}; turned photos "
        f"straightened: {len(found)} of {len(chosen)} (median error "
        f"{result['straightened_error_median'] or 0:.1f} deg)"
    )
    return result


def _moments(coverage: np.ndarray) -> tuple[float, ...]:
    """Area, centre (row, column) and spread (row, column) of ``coverage (H, W)``, in pixels."""
    weights = coverage.astype(np.float64)
    rows, columns = np.mgrid[: weights.shape[0], : weights.shape[1]] + 0.5
    area = weights.sum()
    centre_y, centre_x = (weights * rows).sum() / area, (weights * columns).sum() / area
    spread_y = math.sqrt((weights * (rows - centre_y) ** 2).sum() / area)
    spread_x = math.sqrt((weights * (columns - centre_x) ** 2).sum() / area)
    return area, centre_y, centre_x, spread_y, spread_x


def bench_framing(items: list[dict]) -> dict:
    """How far gen3d's framing of each photo (``prepare_input``'s mask) is from the object's
    exact framing (a render framed by its bounds, 4x4 samples a pixel averaged down)."""
    from PIL import Image

    from gen3d.images import prepare_input
    from gen3d.pipeline import PREPARE_MARGIN, reference_cameras

    errors = []
    for item in items:
        mesh = RenderMesh.from_trimesh(item["mesh"])
        colour, _ = photo(mesh, item["view"])
        picture = Image.fromarray((colour * 255 + 0.5).to(torch.uint8).numpy())
        framed = prepare_input(picture, SIZE, PREPARE_MARGIN).mask
        cameras = reference_cameras(mesh.vertices, item["view"], SIZE * 4)
        fine = render_mesh(mesh, cameras, shading="albedo", antialias=False).mask[0].float()
        truth = torch.nn.functional.avg_pool2d(fine[None, None], 4)[0, 0].numpy()
        got, want = _moments(framed), _moments(truth)
        errors.append(
            [got[1] - want[1], got[2] - want[2]]
            + [100.0 * (got[i] / want[i] - 1.0) for i in (3, 4, 0)]
        )
        print(
            f"{item['category']:>14} shift {errors[-1][0]:+.2f} / {errors[-1][1]:+.2f} px, "
            f"scale {errors[-1][2]:+.2f} / {errors[-1][3]:+.2f}%, area {errors[-1][4]:+.2f}%",
            flush=True,
        )
    mean = np.abs(np.asarray(errors)).mean(axis=0)
    names = ("shift_rows_px", "shift_columns_px", "scale_rows_pct", "scale_columns_pct", "area_pct")
    result = {name: float(value) for name, value in zip(names, mean, strict=True)}
    print(
        f"\nmean absolute error: shift {mean[0]:.2f} / {mean[1]:.2f} px (rows / columns), "
        f"scale {mean[2]:.2f} / {mean[3]:.2f}%, area {mean[4]:.2f}%"
    )
    return result


def bench_tilt(items: list[dict], seed: int) -> dict:
    """The edge reading alone (``gen3d.edge_tilt``): each shape photographed level and turned
    3-15 degrees either way (Lambert, head light, 384^2), as rendered and as a phone would
    keep it (noise, then JPEG at quality 75); cut out and framed as the pipeline frames an
    input. For each strength threshold: level photos read as turned (false alarms), turned
    ones read as turned, and the median error of those."""
    import io

    from PIL import Image

    from gen3d.edge_tilt import edge_tilt
    from gen3d.image_view import prepared_photo
    from gen3d.images import cut_image
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, reference_cameras

    rng = random.Random(seed + 3)
    noise = np.random.default_rng(seed)
    readings: dict[str, list[tuple[float, object]]] = {"clean": [], "phone": []}
    seconds = []
    for item in items:
        drawable = RenderMesh.from_trimesh(item["mesh"])
        turn = rng.choice((-1, 1)) * rng.uniform(3.0, 15.0)
        for roll in (0.0, turn):
            cameras = reference_cameras(drawable.vertices, (*item["view"], roll), SIZE)
            colour = render_mesh(drawable, cameras, shading="lambert").color[0].clamp(0, 1)
            pixels = (colour.numpy() * 255 + 0.5).astype(np.uint8)
            noisy = np.clip(pixels + noise.normal(0.0, 4.0, pixels.shape), 0, 255)
            buffer = io.BytesIO()
            Image.fromarray(noisy.astype(np.uint8)).save(buffer, "JPEG", quality=75)
            phone = Image.open(buffer)
            for kind, picture in (("clean", Image.fromarray(pixels)), ("phone", phone)):
                colours, mask = prepared_photo(
                    cut_image(picture), REFINE_RESOLUTION, PREPARE_MARGIN
                )
                started = time.perf_counter()
                readings[kind].append((roll, edge_tilt(colours, mask)))
                seconds.append(time.perf_counter() - started)
    result: dict = {"seconds_per_photo": float(np.median(seconds)), "photos": len(items)}
    print(
        "\n| photos | strength at least | read up to (deg) | mirror guard | level read as "
        "turned | turned read as turned | median error (deg) |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind, found in readings.items():
        for threshold, limit, guard in itertools.product(
            (2.0, 2.5, 3.0), (15.0, 19.5), (False, True)
        ):

            def turned(tilt, threshold=threshold, limit=limit, guard=guard) -> bool:
                mirror = not guard or tilt.mirrored < 1.0
                return tilt.strength >= threshold and 3.0 <= abs(tilt.roll) <= limit and mirror

            level = [tilt for roll, tilt in found if roll == 0.0]
            askew = [(roll, tilt) for roll, tilt in found if roll != 0.0]
            false = sum(turned(tilt) for tilt in level)
            hits = [abs(tilt.roll - roll) for roll, tilt in askew if turned(tilt)]
            median = float(np.median(hits)) if hits else float("nan")
            result[f"{kind}, {threshold}, {limit}, {guard}"] = {
                "false_alarms": false,
                "found": len(hits),
                "error_median": median,
            }
            print(
                f"| {kind} | {threshold} | {limit} | {'yes' if guard else 'no'} | {false} of "
                f"{len(level)} | {len(hits)} of {len(askew)} | {median:.1f} |"
            )
        strongest = sorted(
            (
                tilt.strength
                for roll, tilt in found
                if roll == 0.0 and 3.0 <= abs(tilt.roll) <= 15.0
            ),
            reverse=True,
        )[:5]
        result[f"{kind}, strongest level readings"] = strongest
        print(
            f"{kind}: the strongest readings of level photos (3-15 deg): "
            + ", ".join(f"{v:.2f}" for v in strongest)
        )
    print(f"{result['seconds_per_photo']:.3f} s per photo")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="views,paint,refine")
    parser.add_argument("--refine-shapes", type=int, default=12)
    parser.add_argument("--refine-steps", type=int, default=100)
    parser.add_argument(
        "--prepared",
        action="store_true",
        help="--parts views: each photo given as a picture and framed as gen3d frames one "
        "(gen3d.images.prepare_input), not used as rendered",
    )
    parser.add_argument(
        "--data", default="data/shapes", help="--parts straighten: a dataset's test split"
    )
    parser.add_argument(
        "--max-roll", type=float, default=15.0, help="--parts roll: photos turned up to this"
    )
    parser.add_argument(
        "--shading",
        default="albedo",
        choices=("albedo", "lambert", "coloured", "glossy", "shadowed"),
        help="the photos' lighting",
    )
    parser.add_argument(
        "--highlight-shadings",
        default="lambert,coloured,glossy",
        help="the photos' lighting for --parts highlights (evenly lit photos have no lamp to "
        "look for, so none is searched in them)",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    results: dict = {"machine": platform.processor() or platform.machine()}
    items = inputs(args.shapes, args.seed)
    if "views" in parts:
        results["views"] = bench_views(items, args.prepared)
    if "paint" in parts:
        results[f"paint ({args.shading})"] = bench_paint(
            items[: args.refine_shapes], args.refine_steps, args.shading
        )
    if "highlights" in parts:
        results["highlights"] = bench_highlights(
            items[: args.refine_shapes], tuple(args.highlight_shadings.split(","))
        )
    if "refine" in parts:
        results["refine"] = bench_refine(items[: args.refine_shapes], args.refine_steps)
    if "straighten" in parts:
        results["straighten"] = bench_straighten(args.data, args.refine_shapes, args.seed)
    if "tilt" in parts:
        results["tilt"] = bench_tilt(items, args.seed)
    if "framing" in parts:
        results["framing"] = bench_framing(items)
    if "pipeline-refine" in parts:
        results["pipeline-refine"] = bench_pipeline_refine(
            items[: args.refine_shapes], (0, 50, args.refine_steps)
        )
    if "symmetry" in parts:
        results["symmetry"] = bench_symmetry(items[: args.refine_shapes])
    if "roll" in parts:
        results["roll"] = bench_roll(
            items[: args.refine_shapes], args.refine_steps, args.max_roll, args.seed
        )
    out = ROOT / "bench_results" / "bench_pose.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
