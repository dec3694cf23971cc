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
texture); and ``unwrap``: seconds to chart the 10k and 200k tori for a 1024^2 texture as
gen3d does it, xatlas in a child process (``unwrap_uv``), against xatlas in this process
(the baseline: what isolating a crash costs). Medians over ``--repeats`` after one
warm-up. Prints a Markdown table and writes bench_results/bench_render.json.
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

from render.backend import get_backend, nvdiffrast_available
from render.camera import Cameras
from render.mesh import RenderMesh
from render.refine import RefineSettings, refine_texture
from render.renderer import render_mesh
from render.uv import unwrap_uv

MESHES = {"10k": (100, 50), "200k": (500, 200)}  # torus sections: 2 * major * minor faces
OUT = Path("bench_results")


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
    settings = RefineSettings(steps=100, patience=100)  # no early stop: time all 100 steps
    start = time.perf_counter()
    refine_texture(mesh, cameras, references, settings=settings)
    if device == "cuda":
        torch.cuda.synchronize()
    return {"device": device, "refine_100_steps_s": time.perf_counter() - start}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="512^2 and the 10k mesh only")
    args = parser.parse_args()
    resolutions = [512] if args.quick else [512, 1024]
    meshes = ["10k"] if args.quick else list(MESHES)
    rows = frame_rows(resolutions, meshes, args.repeats)
    refine = [refine_row("cpu")] + ([refine_row("cuda")] if torch.cuda.is_available() else [])
    unwrap = unwrap_rows(max(1, args.repeats // 2))

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
        print(f"100 refinement steps ({row['device']}): {row['refine_100_steps_s']:.1f} s")
    for row in unwrap:
        print(
            f"unwrap, {row['mesh']} torus: {row['child_process_s']:.2f} s in a child process, "
            f"{row['in_process_s']:.2f} s in process"
        )
    OUT.mkdir(exist_ok=True)
    path = OUT / "bench_render.json"
    path.write_text(json.dumps({"frames": rows, "refine": refine, "unwrap": unwrap}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
