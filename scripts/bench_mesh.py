"""Benchmark mesh extraction: dense vs hierarchical queries and time, and marching cubes.

    .venv/bin/python scripts/bench_mesh.py                  # 128^3, 256^3, 512^3 (~5 min, CPU)
    .venv/bin/python scripts/bench_mesh.py --max-resolution 256

For each field (an analytic sphere, cheap to query; a procedural chair, ~20 parts) and each
resolution: field queries and seconds for dense and for hierarchical extraction, in the same
run. Then marching cubes alone on the same 257^3 grid: PyMCubes (what gen3d uses) against
scikit-image (if installed: `pip install scikit-image`). Prints a Markdown table and writes
bench_results/bench_mesh.json. VAE fields join the table when the VAE issue lands.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-resolution", type=int, default=512)
    args = parser.parse_args()
    resolutions = [r for r in (128, 256, 512) if r <= args.max_resolution]
    fields = {"sphere (analytic)": Sphere(0.6), "chair (procedural)": generate_shape("chair", 0)}
    rows = []
    for name, field in fields.items():
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
    mc = bench_marching_cubes()
    results = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores (CPU)",
        "extraction": rows,
        "marching_cubes": mc,
    }
    out = ROOT / "bench_results"
    out.mkdir(exist_ok=True)
    (out / "bench_mesh.json").write_text(json.dumps(results, indent=2))

    print(f"\nCPU: {results['machine']}")
    print(
        "| field | grid | dense: queries, s | hierarchical: queries, s | query ratio | speed-up |"
        " same mesh |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['field']} | {r['resolution']}^3 | {r['dense_queries'] / 1e6:.1f}M, "
            f"{r['dense_s']:.2f} | {r['hier_queries'] / 1e6:.2f}M, {r['hier_s']:.2f} | "
            f"{r['hier_queries'] / r['dense_queries']:.3f} | "
            f"{r['dense_s'] / r['hier_s']:.1f}x | {'yes' if r['identical_mesh'] else 'no'} |"
        )
    skimage = f"{mc['skimage_s']:.2f} s" if mc["skimage_s"] is not None else "not installed"
    print(
        f"\nmarching cubes on a {mc['resolution']}^3 grid: PyMCubes {mc['pymcubes_s']:.2f} s, "
        f"scikit-image {skimage}"
    )


if __name__ == "__main__":
    main()
