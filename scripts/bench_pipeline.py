"""Benchmark the pipeline: seconds per asset by stage, and assets per minute by batch size.

    .venv/bin/python scripts/bench_pipeline.py --model PIPELINE_FOLDER          # CPU or GPU
    .venv/bin/python scripts/bench_pipeline.py --model PIPELINE_FOLDER --batch-sizes 1,4

First one asset at the pipeline's default options after a warm-up, with its stage timings;
then, per batch size B (the baseline is B = 1, in the same run), B prompts sampled in one
DiT batch and each meshed and textured: assets per minute, and the speed-up of the sampling
stage alone. Prints a Markdown table and writes bench_results/bench_pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from gen3d.pipeline import Pipeline

PROMPTS = [
    "a red wooden chair",
    "a tall green rocket",
    "a blue ceramic mug",
    "a small yellow lamp",
    "a white lighthouse",
    "a brown table",
    "an orange toy car",
    "a grey sword",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a pipeline folder")
    parser.add_argument("--batch-sizes", default="1,4,16")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model, device=args.device)
    device = pipe.device.type

    pipe(prompt=PROMPTS[0], seed=0)  # warm-up: first-call allocations, kernels, caches
    asset = pipe(prompt=PROMPTS[1], seed=1)
    stages = dict(asset.timings)
    total = sum(stages.values())

    rows = []
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
        start = time.perf_counter()
        assets = pipe(prompt=prompts, seed=100)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "batch": batch,
                "seconds": seconds,
                "assets_per_minute": 60.0 * batch / seconds,
                "sample_seconds_per_asset": assets[0].timings["sample"] / batch,
            }
        )
        print(rows[-1], flush=True)

    print(f"\nPipeline on {device} ({platform.machine()}, {torch.get_num_threads()} threads)")
    print("defaults:", json.dumps(pipe.defaults.__dict__))
    print("| stage | seconds |\n| --- | ---: |")
    for stage, seconds in stages.items():
        print(f"| {stage} | {seconds:.2f} |")
    print(f"| total | {total:.2f} |\n")
    base = rows[0]["sample_seconds_per_asset"]
    print("| batch | assets/min | sampling s/asset | sampling speed-up vs batch 1 |")
    print("| ---: | ---: | ---: | ---: |")
    for row in rows:
        speedup = base / row["sample_seconds_per_asset"]
        print(
            f"| {row['batch']} | {row['assets_per_minute']:.1f} | "
            f"{row['sample_seconds_per_asset']:.2f} | {speedup:.1f}x |"
        )
    out = Path("bench_results")
    out.mkdir(exist_ok=True)
    (out / "bench_pipeline.json").write_text(
        json.dumps({"device": device, "stages": stages, "batches": rows}, indent=2)
    )
    print(f"wrote {out / 'bench_pipeline.json'}")


if __name__ == "__main__":
    main()
