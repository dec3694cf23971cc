"""Benchmark the data layer: procedural shapes/s and meshes/s at default sample counts.

    .venv/bin/python scripts/bench_data.py            # about 2 minutes on 2 cores
    .venv/bin/python scripts/bench_data.py --quick    # fewer shapes, for a smoke run

Measures, in one run on this machine:
  1. procedural shapes/s for one process, split by stage (generate, surface, SDF samples);
  2. dataset build throughput with 1 worker vs all cores (the build's own parallelism);
  3. meshes/s (load + clean + sample) over tests/fixtures/meshes/real;
  4. the inside test on the bunny: fast winding numbers (point-cloud-utils, what gen3d uses)
     against the exact solid-angle sum (the baseline it replaces), same points.
Prints a Markdown table for the README and writes bench_results/bench_data.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from gen3d.data import BuildSpec, SamplingConfig, build_dataset, load_mesh, sample_sdf
from gen3d.data.inside import exact_winding_numbers, winding_numbers
from gen3d.data.procedural import generate_shape, list_categories
from gen3d.data.sampling import _procedural_surface

ROOT = Path(__file__).resolve().parents[1]
MESHES = ROOT / "tests" / "fixtures" / "meshes" / "real"


def bench_procedural(n_per_category: int, config: SamplingConfig) -> dict:
    stages = {"generate": 0.0, "surface": 0.0, "near + volume sdf": 0.0}
    count = 0
    for category in list_categories():
        for seed in range(n_per_category):
            t0 = time.perf_counter()
            shape = generate_shape(category, seed)
            t1 = time.perf_counter()
            _procedural_surface(
                shape, config.n_surface, np.random.default_rng(0), config.grid_resolution
            )
            t2 = time.perf_counter()
            sample_sdf(shape, config, seed=0)  # the full sampler (includes the surface again)
            t3 = time.perf_counter()
            stages["generate"] += t1 - t0
            stages["surface"] += t2 - t1
            stages["near + volume sdf"] += max((t3 - t2) - (t2 - t1), 0.0)
            count += 1
    total = sum(stages.values())
    return {
        "shapes": count,
        "shapes_per_s": count / total,
        "stage_s_per_shape": {k: v / count for k, v in stages.items()},
    }


def bench_build(count: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        spec = BuildSpec(source="procedural", count=count, shard_size=4)
        start = time.perf_counter()
        build_dataset(spec, Path(tmp) / "ds", workers=workers)
        return count / (time.perf_counter() - start)


def bench_meshes(config: SamplingConfig) -> dict:
    paths = sorted(MESHES.glob("*"))
    start = time.perf_counter()
    faces = 0
    for path in paths:
        asset = load_mesh(path)
        sample_sdf(asset, config, seed=0)
        faces += len(asset.faces)
    seconds = time.perf_counter() - start
    return {
        "meshes": len(paths),
        "meshes_per_s": len(paths) / seconds,
        "mean_faces": faces / len(paths),
    }


def bench_inside(n_points: int) -> dict:
    asset = load_mesh(MESHES / "bunny.ply")
    points = np.random.default_rng(0).uniform(-1, 1, (n_points, 3))
    start = time.perf_counter()
    fast = winding_numbers(asset.surface, points)
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    exact = exact_winding_numbers(asset.vertices, asset.faces, points)
    exact_s = time.perf_counter() - start
    return {
        "points": n_points,
        "faces": len(asset.faces),
        "fast_ms": fast_s * 1e3,
        "exact_ms": exact_s * 1e3,
        "speedup": exact_s / fast_s,
        "sign_agreement": float(((fast > 0.5) == (exact > 0.5)).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    config = SamplingConfig()
    cores = len(os.sched_getaffinity(0))
    per_category = 1 if args.quick else 2
    build_count = 16 if args.quick else 48

    results = {
        "machine": f"{platform.processor() or platform.machine()}, {cores} cores (CPU)",
        "sampling": {
            "n_surface": config.n_surface,
            "n_near": config.n_near,
            "n_volume": config.n_volume,
            "grid": config.grid_resolution,
        },
    }
    results["procedural"] = bench_procedural(per_category, config)
    results["build_1_worker_shapes_per_s"] = bench_build(build_count, 1)
    results[f"build_{cores}_workers_shapes_per_s"] = bench_build(build_count, cores)
    results["meshes"] = bench_meshes(config)
    results["inside"] = bench_inside(2000 if args.quick else 5000)

    out = ROOT / "bench_results"
    out.mkdir(exist_ok=True)
    (out / "bench_data.json").write_text(json.dumps(results, indent=2))
    p, m, w = results["procedural"], results["meshes"], results["inside"]
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in p["stage_s_per_shape"].items())
    print(f"CPU: {results['machine']}; samples per shape: {results['sampling']}")
    print("| benchmark | result |\n| --- | --- |")
    print(
        f"| procedural shapes/s, 1 process ({p['shapes']} shapes) | {p['shapes_per_s']:.2f} "
        f"({stages}) |"
    )
    print(
        f"| dataset build shapes/s, 1 worker vs {cores} | "
        f"{results['build_1_worker_shapes_per_s']:.2f} vs "
        f"{results[f'build_{cores}_workers_shapes_per_s']:.2f} |"
    )
    print(
        f"| meshes/s, load + clean + sample ({m['meshes']} test meshes, mean "
        f"{m['mean_faces']:.0f} faces) | {m['meshes_per_s']:.2f} |"
    )
    print(
        f"| inside test, bunny ({w['faces']} faces, {w['points']} points): fast winding vs "
        f"exact sum | {w['fast_ms']:.0f} ms vs {w['exact_ms']:.0f} ms "
        f"({w['speedup']:.0f}x; signs agree {w['sign_agreement']:.2%}) |"
    )


if __name__ == "__main__":
    main()
