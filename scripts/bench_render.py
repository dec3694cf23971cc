"""Benchmark rendering: ms per frame by backend, mesh size and resolution; texture refinement.

    .venv/bin/python scripts/bench_render.py            # ~2 min on 2 CPU cores
    .venv/bin/python scripts/bench_render.py --quick    # 512^2 and the 10k mesh only

Meshes: tori of about 10k and 200k faces filling most of the frame. Per backend available
(PyTorch always; nvdiffrast on CUDA when installed) and per resolution (512^2, 1024^2):
- ``rasterize``: coverage, depth and barycentrics only;
- ``render``: a full preview frame (Lambert shading with smooth normals, antialiasing);
- the baseline, in the same run: embree ray casting of the same pixels through trimesh
  (first hit per pixel centre, i.e. coverage only), the usual CPU way to get a picture.
Then ``refine``: seconds for 100 texture-refinement steps (4 views at 512^2, a 1024^2
texture); ``quality``: what refinement from one 384^2 view (the pipeline's image-to-3D
setting) does to a blurred, faded 1024^2 texture of a procedural mug and chair whose true
texture is known: PSNR in the refined view itself, in that view at 1024^2 and from another
angle, for the change optimised texel by texel (the baseline) and at gen3d's coarser,
view-matched resolution; ``agreement`` (CUDA with nvdiffrast only): on the real test meshes
(tests/fixtures/meshes/real), three views each at 256^2 and 512^2, the share of pixels whose
coverage nvdiffrast and the PyTorch backend agree on, and their median colour difference
where both cover (issue 7's acceptance: at least 99.5%); and ``unwrap``: seconds to chart
the 10k and 200k tori for a 1024^2 texture as gen3d does it, xatlas in a child process
(``unwrap_uv``), against xatlas in this process (the baseline: what isolating a crash
costs). Medians over ``--repeats`` after one warm-up. Prints Markdown tables and writes
bench_render.json into ``--out`` (default bench_results/).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import trimesh
import trimesh.ray

from render.backend import get_backend, nvdiffrast_available
from render.camera import Cameras
from render.mesh import RenderMesh
from render.refine import RefineSettings, refine_texture
from render.renderer import render_mesh
from render.uv import unwrap_uv

MESHES = {"10k": (100, 50), "200k": (500, 200)}  # torus sections: 2 * major * minor faces
OUT = Path("bench_results")
REAL_MESHES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "meshes" / "real"


def torus(major: int, minor: int) -> trimesh.Trimesh:
    return trimesh.creation.torus(
        major_radius=0.75, minor_radius=0.3, major_sections=major, minor_sections=minor
    )


def timed(function: Callable[[], object], repeats: int, cuda: bool) -> float:
    """Median seconds of ``function`` after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def frame_rows(resolutions: list[int], meshes: list[str], repeats: int) -> list[dict]:
    backends = [("torch", "cpu")]
    if torch.cuda.is_available():
        backends.append(("torch", "cuda"))
        if nvdiffrast_available():
            backends.append(("nvdiffrast", "cuda"))
    rows = []
    for mesh_name in meshes:
        source = torus(*MESHES[mesh_name])
        for resolution in resolutions:
            cameras = Cameras.orbit([30.0], 35.0, resolution=resolution)
            for backend_name, device in backends:
                mesh = RenderMesh.from_trimesh(source).to(device)
                backend = get_backend(backend_name, device)
                cuda = device == "cuda"
                clip = cameras.to(device).to_clip(mesh.vertices)
                rasterize = timed(
                    lambda b=backend, c=clip, m=mesh, r=resolution: b.rasterize(c, m.faces, (r, r)),
                    repeats,
                    cuda,
                )
                render = timed(
                    lambda m=mesh, b=backend, c=cameras: render_mesh(m, c, backend=b),
                    repeats,
                    cuda,
                )
                rows.append(
                    {
                        "method": f"{backend_name} ({device})",
                        "faces": len(source.faces),
                        "resolution": resolution,
                        "rasterize_ms": rasterize * 1e3,
                        "render_ms": render * 1e3,
                    }
                )
                print(rows[-1], flush=True)
            if not trimesh.ray.has_embree:  # numpy ray casting would take minutes per frame
                print("baseline skipped: embree (embreex) is not installed", flush=True)
                continue
            origins, directions = cameras.pixel_rays()
            origins, directions = origins.reshape(-1, 3).numpy(), directions.reshape(-1, 3).numpy()
            raycast = timed(
                lambda s=source, o=origins, d=directions: s.ray.intersects_first(o, d),
                max(1, repeats // 2),
                False,
            )
            rows.append(
                {
                    "method": "baseline: embree ray casting (cpu)",
                    "faces": len(source.faces),
                    "resolution": resolution,
                    "rasterize_ms": raycast * 1e3,
                    "render_ms": None,
                }
            )
            print(rows[-1], flush=True)
    return rows


def refine_row(device: str) -> dict:
    sphere = trimesh.creation.icosphere(subdivisions=4)
    unwrapped = unwrap_uv(sphere.vertices, sphere.faces, texture_size=1024)
    mesh = RenderMesh(
        torch.from_numpy(unwrapped.vertices),
        torch.from_numpy(unwrapped.faces),
        uv=torch.from_numpy(unwrapped.uv),
        texture=torch.full((1024, 1024, 3), 0.5),
    ).to(device)
    cameras = Cameras.orbit([0.0, 90.0, 180.0, 270.0], 20.0, resolution=512)
    references = torch.rand(4, 512, 512, 3, device=device)
    row: dict = {"device": device}
    for name, coarsening in (("texel_by_texel", 1), ("gen3d", None)):
        # no early stop: time all 100 steps
        settings = RefineSettings(steps=100, patience=100, coarsening=coarsening)
        start = time.perf_counter()
        refine_texture(mesh, cameras, references, settings=settings)
        if device == "cuda":
            torch.cuda.synchronize()
        row[f"{name}_100_steps_s"] = time.perf_counter() - start
    return row


def _detail(points: torch.Tensor, frequency: float) -> torch.Tensor:
    """A colour pattern with detail, as a function of position (the known true texture)."""
    wave = torch.sin(frequency * points)
    return 0.5 + 0.4 * torch.stack([wave[:, 0] * wave[:, 1], wave[:, 2], wave[:, 0]], dim=-1)


def quality_rows() -> list[dict]:
    from gen3d.data.procedural import generate_shape
    from gen3d.mesh import clean_mesh, extract_hierarchical
    from gen3d.pipeline import reference_cameras
    from render.bake import bake_texture
    from render.refine import TextureSampler, psnr

    rows = []
    for category, frequency in (("mug", 60.0), ("chair", 40.0)):
        shape = generate_shape(category, 3)
        surface = clean_mesh(extract_hierarchical(shape, 128).mesh, face_count=20_000)
        unwrapped = unwrap_uv(surface.vertices, surface.faces, texture_size=1024)
        vertices, faces, uv = (
            torch.from_numpy(a) for a in (unwrapped.vertices, unwrapped.faces, unwrapped.uv)
        )
        truth, _ = bake_texture(vertices, faces, uv, lambda p, f=frequency: _detail(p, f), 1024)
        blurred = torch.nn.functional.avg_pool2d(
            truth.permute(2, 0, 1)[None], 31, stride=1, padding=15, count_include_pad=False
        )[0].permute(1, 2, 0)
        mesh = RenderMesh(vertices.float(), faces, uv=uv.float(), texture=blurred * 0.8 + 0.1)
        views = {
            "fit": ((30.0, 20.0), 384),
            "1024": ((30.0, 20.0), 1024),
            "new_angle": ((45.0, 25.0), 512),
        }
        samplers = {
            name: TextureSampler(mesh, reference_cameras(mesh.vertices, view, size))
            for name, (view, size) in views.items()
        }
        cameras = reference_cameras(mesh.vertices, *views["fit"])
        reference = samplers["fit"](truth)
        for steps in (30, 100):
            for coarsening in (1, None):
                settings = RefineSettings(steps=steps, patience=steps, coarsening=coarsening)
                start = time.perf_counter()
                result = refine_texture(mesh, cameras, reference, settings=settings)
                row = {
                    "mesh": category,
                    "steps": steps,
                    "coarsening": result.coarsening,
                    "seconds": time.perf_counter() - start,
                }
                for name, sampler in samplers.items():
                    row[f"psnr_{name}"] = psnr(
                        sampler(result.texture), sampler(truth), sampler.covered
                    )
                rows.append(row)
                print(rows[-1], flush=True)
    return rows


def unwrap_rows(repeats: int) -> list[dict]:
    from render.unwrap_worker import chart

    rows = []
    for name, sections in MESHES.items():
        mesh = torus(*sections)
        vertices = mesh.vertices.astype("float32")
        faces = mesh.faces.astype("uint32")
        isolated = timed(lambda v=vertices, f=faces: unwrap_uv(v, f), repeats, False)
        in_process = timed(lambda v=vertices, f=faces: chart(v, f, 1024, 4), repeats, False)
        rows.append({"mesh": name, "child_process_s": isolated, "in_process_s": in_process})
        print(rows[-1], flush=True)
    return rows


def agreement_rows() -> list[dict]:
    """nvdiffrast against the PyTorch backend on the real test meshes (CUDA only)."""
    if not (torch.cuda.is_available() and nvdiffrast_available()):
        print("agreement: skipped (needs CUDA and nvdiffrast)", flush=True)
        return []
    rows = []
    for path in sorted(REAL_MESHES.glob("*")):
        if path.suffix.lower() not in (".glb", ".obj", ".ply", ".stl"):
            continue
        source = trimesh.load(path, force="mesh", process=False)
        source.vertices = source.vertices - source.bounds.mean(axis=0)
        source.vertices = source.vertices / abs(source.vertices).max()
        mesh = RenderMesh.from_trimesh(source).to("cuda")
        for resolution in (256, 512):
            cameras = Cameras.orbit(
                [20.0, 135.0, 250.0], [15.0, -30.0, 60.0], resolution=resolution
            )
            reference = render_mesh(mesh, cameras, backend="torch", antialias=False)
            cuda = render_mesh(mesh, cameras, backend="nvdiffrast", antialias=False)
            both = reference.mask & cuda.mask
            difference = (reference.color - cuda.color).abs().amax(-1)[both]
            rows.append(
                {
                    "mesh": path.name,
                    "faces": len(source.faces),
                    "resolution": resolution,
                    "coverage_agreement": (reference.mask == cuda.mask).float().mean().item(),
                    "median_colour_difference": difference.median().item()
                    if len(difference)
                    else 0.0,
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="512^2 and the 10k mesh only")
    parser.add_argument(
        "--parts",
        default="frames,refine,quality,agreement,unwrap",
        help="comma-separated: frames, refine, quality, agreement, unwrap (default: all)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="folder for bench_render.json")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    resolutions = [512] if args.quick else [512, 1024]
    meshes = ["10k"] if args.quick else list(MESHES)
    rows = frame_rows(resolutions, meshes, args.repeats) if "frames" in parts else []
    refine = []
    if "refine" in parts:
        refine = [refine_row("cpu")] + ([refine_row("cuda")] if torch.cuda.is_available() else [])
    quality = quality_rows() if "quality" in parts else []
    agreement = agreement_rows() if "agreement" in parts else []
    unwrap = unwrap_rows(max(1, args.repeats // 2)) if "unwrap" in parts else []

    print(f"\nRendering ({platform.machine()}, {torch.get_num_threads()} threads)")
    print("| method | faces | resolution | rasterize (ms) | render (ms) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        render = "-" if row["render_ms"] is None else f"{row['render_ms']:.0f}"
        print(
            f"| {row['method']} | {row['faces']:,} | {row['resolution']}^2 "
            f"| {row['rasterize_ms']:.0f} | {render} |"
        )
    for row in refine:
        print(
            f"100 refinement steps ({row['device']}): {row['gen3d_100_steps_s']:.1f} s; "
            f"texel by texel (baseline) {row['texel_by_texel_100_steps_s']:.1f} s"
        )
    if quality:
        print("\n| mesh | steps | coarsening | PSNR fit / at 1024^2 / new angle (dB) | s |")
        print("| --- | ---: | ---: | --- | ---: |")
    for row in quality:
        print(
            f"| {row['mesh']} | {row['steps']} | {row['coarsening']} | "
            f"{row['psnr_fit']:.1f} / {row['psnr_1024']:.1f} / {row['psnr_new_angle']:.1f} | "
            f"{row['seconds']:.1f} |"
        )
    if agreement:
        print("\n| mesh | faces | resolution | coverage agreement | median colour difference |")
        print("| --- | ---: | ---: | ---: | ---: |")
    for row in agreement:
        print(
            f"| {row['mesh']} | {row['faces']:,} | {row['resolution']}^2 "
            f"| {row['coverage_agreement']:.4%} | {row['median_colour_difference']:.2e} |"
        )
    for row in unwrap:
        print(
            f"unwrap, {row['mesh']} torus: {row['child_process_s']:.2f} s in a child process, "
            f"{row['in_process_s']:.2f} s in process"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_render.json"
    results = {
        "frames": rows,
        "refine": refine,
        "quality": quality,
        "agreement": agreement,
        "unwrap": unwrap,
    }
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
