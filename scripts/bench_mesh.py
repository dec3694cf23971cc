"""Benchmark mesh extraction: dense vs hierarchical queries and time, and marching cubes.

    .venv/bin/python scripts/bench_mesh.py                  # 128^3, 256^3, 512^3 (~5 min, CPU)
    .venv/bin/python scripts/bench_mesh.py --max-resolution 256

For each field (an analytic sphere, cheap to query; a procedural chair, ~20 parts) and each
resolution: field queries and seconds for dense and for hierarchical extraction, in the same
run. Then marching cubes alone on the same 257^3 grid: PyMCubes (what gen3d uses) against
scikit-image (if installed: `pip install scikit-image`). Then a VAE's decoded field (the
default model's reconstruction of procedural chair 3; `--model` for another pipeline):
hierarchical extraction on generate's 192 grid with the query settings gen3d used before
(chunks of 32768 points, float32) as the baseline, against cache-sized chunks in float32
and in bfloat16 (what `GEN3D_DTYPE=auto` picks on CPUs with native bfloat16), with how far
the bfloat16 surface lies from the float32 one. Then cleanup: ``clean_mesh`` to generate's
20k faces on the raw meshes the default model makes for three prompts, against the same
steps with the repair of the full-size mesh done twice, as gen3d did before (the baseline).
Prints Markdown tables and writes bench_results/bench_mesh.json (``--parts`` picks parts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import mcubes
import numpy as np

from gen3d.data.procedural import generate_shape
from gen3d.data.procedural.sdf import Sphere
from gen3d.mesh import extract_dense, extract_hierarchical

ROOT = Path(__file__).resolve().parents[1]


def bench_marching_cubes(resolution: int = 256) -> dict:
    axis = np.linspace(-1, 1, resolution + 1)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)
    values = (np.linalg.norm(grid, axis=-1) - 0.6).astype(np.float32)
    start = time.perf_counter()
    mcubes.marching_cubes(values, 0.0)
    result = {"resolution": resolution, "pymcubes_s": time.perf_counter() - start}
    try:
        from skimage.measure import marching_cubes
    except ImportError:
        result["skimage_s"] = None
        return result
    start = time.perf_counter()
    marching_cubes(values, 0.0)
    result["skimage_s"] = time.perf_counter() - start
    return result


def bench_vae_field(model: str | None, resolution: int = 192, repeats: int = 2) -> list[dict]:
    import torch

    from gen3d import Pipeline
    from gen3d.data import SamplingConfig, sample_sdf
    from gen3d.device import cpu_computes_natively
    from vae.vecset import CPU_QUERY_CHUNK

    # The VAE's reconstruction of procedural chair 3 (encoded from its surface samples).
    vae = Pipeline.from_pretrained(model, device="cpu", dtype="float32").vae
    samples = sample_sdf(generate_shape("chair", 3), SamplingConfig(n_surface=2048))
    inputs = [
        torch.as_tensor(array, dtype=torch.float32)[None]
        for array in (samples.surface_points, samples.surface_normals, samples.surface_colours)
    ]
    with torch.no_grad():
        latents = vae.encode(*inputs).mode()
    # The baseline is the chunk size gen3d used before CPU_QUERY_CHUNK, in float32.
    settings = [("baseline: 32768-point chunks, float32", 32_768, torch.float32)]
    settings.append((f"{CPU_QUERY_CHUNK}-point chunks, float32", CPU_QUERY_CHUNK, torch.float32))
    if cpu_computes_natively(torch.bfloat16):
        name = f"{CPU_QUERY_CHUNK}-point chunks, bfloat16"
        settings.append((name, CPU_QUERY_CHUNK, torch.bfloat16))
    rows, surface, reference = [], None, None
    for name, chunk, dtype in settings:
        with torch.no_grad():
            field = vae.decode(latents, chunk=chunk)[0]
        field.query_dtype = dtype
        runs = [extract_hierarchical(field, resolution) for _ in range(repeats)]
        best = min(runs, key=lambda run: run.seconds)
        row = {
            "setting": name,
            "resolution": resolution,
            "queries": best.queries,
            "seconds": best.seconds,
            "queries_per_s": best.queries / best.seconds,
        }
        # How far the surface moved: the change of the field's value at the baseline's
        # surface (its mesh's vertices), against the baseline field there.
        if reference is None:
            surface = np.asarray(best.mesh.vertices, dtype=np.float32)
            reference = field.sdf(surface)
        else:
            row["max_surface_shift"] = float(np.abs(field.sdf(surface) - reference).max())
        rows.append(row)
        print(f"VAE field, {name}: {best.seconds:.2f} s", flush=True)
    return rows


CLEANUP_PROMPTS = (("a ceramic mug", 5), ("a red wooden chair", 7), ("a tall green rocket", 1))


def bench_cleanup(model: str | None, repeats: int = 2) -> list[dict]:
    import torch

    from gen3d import Pipeline
    from gen3d.mesh.cleanup import clean_mesh, decimate, remove_small_components, repair

    pipe = Pipeline.from_pretrained(model, device="cpu")
    rows = []
    for prompt, seed in CLEANUP_PROMPTS:
        cond, uncond, _ = pipe._encode([prompt], None)
        options = pipe.check_inputs(prompt, None, {})[2]
        latents = pipe._sample(cond, uncond, [seed], options, lambda *args: True)
        with torch.no_grad():
            field = pipe.vae.decode(latents)[0]
        raw = extract_hierarchical(field, options.resolution).mesh
        timings: dict[str, list[float]] = {"baseline": [], "gen3d": []}
        for _ in range(repeats):
            start = time.perf_counter()
            before = decimate(remove_small_components(repair(raw), 0.001), options.face_count)
            timings["baseline"].append(time.perf_counter() - start)
            start = time.perf_counter()
            after = clean_mesh(raw, face_count=options.face_count)
            timings["gen3d"].append(time.perf_counter() - start)
        same = np.array_equal(before.faces, after.faces) and np.allclose(
            before.vertices, after.vertices
        )
        rows.append(
            {
                "prompt": prompt,
                "raw_faces": len(raw.faces),
                "faces": len(after.faces),
                "baseline_s": min(timings["baseline"]),
                "clean_mesh_s": min(timings["gen3d"]),
                "same_mesh": bool(same),
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-resolution", type=int, default=512)
    parser.add_argument("--model", help="pipeline folder for the VAE rows (default: packaged)")
    parser.add_argument(
        "--parts", default="extraction,vae,cleanup", help="comma-separated (default: all)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    resolutions = [r for r in (128, 256, 512) if r <= args.max_resolution]
    fields = {"sphere (analytic)": Sphere(0.6), "chair (procedural)": generate_shape("chair", 0)}
    rows = []
    for name, field in fields.items() if "extraction" in parts else ():
        for resolution in resolutions:
            dense = extract_dense(field, resolution)
            fast = extract_hierarchical(field, resolution)
            same = np.array_equal(dense.mesh.faces, fast.mesh.faces)
            rows.append(
                {
                    "field": name,
                    "resolution": resolution,
                    "dense_queries": dense.queries,
                    "dense_s": dense.seconds,
                    "hier_queries": fast.queries,
                    "hier_s": fast.seconds,
                    "identical_mesh": bool(same),
                    "faces": len(fast.mesh.faces),
                }
            )
            print(
                f"{name} {resolution}: dense {dense.seconds:.2f}s, hierarchical "
                f"{fast.seconds:.2f}s",
                flush=True,
            )
    mc = bench_marching_cubes() if "extraction" in parts else None
    vae_rows = bench_vae_field(args.model) if "vae" in parts else []
    cleanup_rows = bench_cleanup(args.model) if "cleanup" in parts else []
    results = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores (CPU)",
        "extraction": rows,
        "marching_cubes": mc,
        "vae_field": vae_rows,
        "cleanup": cleanup_rows,
    }
    out = ROOT / "bench_results"
    out.mkdir(exist_ok=True)
    (out / "bench_mesh.json").write_text(json.dumps(results, indent=2))

    print(f"\nCPU: {results['machine']}")
    if rows:
        print(
            "| field | grid | dense: queries, s | hierarchical: queries, s | query ratio "
            "| speed-up | same mesh |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['field']} | {r['resolution']}^3 | {r['dense_queries'] / 1e6:.1f}M, "
            f"{r['dense_s']:.2f} | {r['hier_queries'] / 1e6:.2f}M, {r['hier_s']:.2f} | "
            f"{r['hier_queries'] / r['dense_queries']:.3f} | "
            f"{r['dense_s'] / r['hier_s']:.1f}x | {'yes' if r['identical_mesh'] else 'no'} |"
        )
    if mc is not None:
        skimage = f"{mc['skimage_s']:.2f} s" if mc["skimage_s"] is not None else "not installed"
        print(
            f"\nmarching cubes on a {mc['resolution']}^3 grid: PyMCubes "
            f"{mc['pymcubes_s']:.2f} s, scikit-image {skimage}"
        )
    if vae_rows:
        baseline = vae_rows[0]["seconds"]
        print("\n| VAE field, hierarchical 192^3 | queries | s | speed-up | max surface shift |")
        print("| --- | --- | --- | --- | --- |")
    for r in vae_rows:
        shift = r.get("max_surface_shift")
        print(
            f"| {r['setting']} | {r['queries'] / 1e6:.2f}M | {r['seconds']:.2f} | "
            f"{baseline / r['seconds']:.2f}x | {'-' if shift is None else f'{shift:.4f}'} |"
        )
    if cleanup_rows:
        print("\n| cleanup to 20k faces | raw faces | baseline s | clean_mesh s | same mesh |")
        print("| --- | --- | --- | --- | --- |")
    for r in cleanup_rows:
        print(
            f"| {r['prompt']} | {r['raw_faces']:,} | {r['baseline_s']:.2f} | "
            f"{r['clean_mesh_s']:.2f} | {'yes' if r['same_mesh'] else 'no'} |"
        )


if __name__ == "__main__":
    main()
