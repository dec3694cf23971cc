"""Benchmark VAE training: steps/s, peak memory, and reconstruction after a fixed budget.

    gen3d dataset build --procedural 400 --out data/shapes          # once
    .venv/bin/python scripts/bench_vae.py --data data/shapes          # ~2 min, CPU
    .venv/bin/python scripts/bench_vae.py --data data/shapes --quality-steps 300

Variants, each in its own process (so peak memory is its own), in the same run:
- ``vecset-all-gradients``: the small vecset recipe with the normal and eikonal terms
  at every point, the baseline;
- ``vecset``: the shipped recipe, ``scripts/configs/vae-small.yaml`` (gradient terms at 128
  points per shape);
- ``triplane``: ``scripts/configs/triplane-small.yaml``.
Each runs ``--steps`` training steps (batch 16; 512 surface, 1024 near, 256 volume points
per shape, the recipe's command) after 3 warm-up steps; steps/s is the median over them.
With ``--quality-steps N`` each variant then trains N steps through ``train_vae`` and reports
F-scores of meshes decoded from the dataset's validation shapes. On CUDA (where available)
the same runs use one GPU with bf16 autocast, and peak memory is the GPU's.
Prints a Markdown table and writes bench_results/bench_vae.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "scripts" / "configs"
VARIANTS = {
    "vecset-all-gradients": ("vae-small.yaml", {"gradient_points": 0}),
    "vecset": ("vae-small.yaml", {}),
    "triplane": ("triplane-small.yaml", {}),
}
BATCH = {"batch_size": 16, "n_surface": 512, "n_near": 1024, "n_volume": 256}


def run_variant(name: str, data: Path, steps: int, quality_steps: int) -> dict:
    """Time ``steps`` training steps (and train ``quality_steps`` for metrics) in-process."""
    import torch

    from gen3d.cli.train_vae import reconstruction_validator
    from gen3d.data import ShapeDataset
    from vae.losses import LossWeights
    from vae.trainer import VAETrainConfig, prepare_training, train_step, train_vae

    config_file, loss_overrides = VARIANTS[name]
    config = VAETrainConfig.from_file(CONFIGS / config_file)
    config = replace(config, loss={**config.loss, **loss_overrides})
    dataset = ShapeDataset(
        data,
        split="train",
        n_surface=BATCH["n_surface"],
        n_near=BATCH["n_near"],
        n_volume=BATCH["n_volume"],
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=BATCH["batch_size"], shuffle=True, drop_last=True
    )
    batches = iter(loader)
    accelerator, model, optimizer, scheduler = prepare_training(config)
    weights = LossWeights(**config.loss)
    cuda = accelerator.device.type == "cuda"
    times = []
    for index in range(steps + 3):
        batch = next(batches, None)
        if batch is None:
            batches = iter(loader)
            batch = next(batches)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        train_step(accelerator, model, optimizer, scheduler, batch, config, weights)
        if cuda:
            torch.cuda.synchronize()
        if index >= 3:
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    if cuda:
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:  # ru_maxrss is in KiB on Linux
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "variant": name,
        "device": accelerator.device.type,
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "steps_per_s": 1.0 / step_s,
        "shapes_per_s": BATCH["batch_size"] / step_s,
        "peak_memory_mb": peak_mb,
    }
    if quality_steps:
        config = replace(
            config,
            steps=quality_steps,
            warmup_steps=min(config.warmup_steps, quality_steps // 10),
            validate_every=quality_steps,
            checkpoint_every=quality_steps,
        )
        validate = reconstruction_validator(data, shapes=8, encoder_points=config.encoder_points)
        with tempfile.TemporaryDirectory() as run:
            start = time.perf_counter()
            train_vae(config, loader, run, validate=validate, progress=False)
            result["quality_minutes"] = (time.perf_counter() - start) / 60
            last = (Path(run) / "metrics.jsonl").read_text().splitlines()[-1]
        metrics = json.loads(last)
        result["quality_steps"] = quality_steps
        result["val_f_0.01"] = metrics["val_f_0.01"]
        result["val_f_0.02"] = metrics["val_f_0.02"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a gen3d dataset folder")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--quality-steps", type=int, default=0, help="then train N steps")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_variant(args.child, args.data, args.steps, args.quality_steps)))
        return
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    rows = []
    for name in names:
        child = [sys.executable, __file__, "--data", str(args.data), "--child", name]
        child += ["--steps", str(args.steps), "--quality-steps", str(args.quality_steps)]
        done = subprocess.run(child, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"measured {name}", file=sys.stderr, flush=True)

    print(f"\nVAE training ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    columns = (
        "variant | device | params (M) | steps/s | shapes/s | peak memory (MB) | F@0.01 | F@0.02"
    )
    print(f"| {columns} |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        f1, f2 = row.get("val_f_0.01"), row.get("val_f_0.02")
        quality = f"{f1:.3f} | {f2:.3f}" if f1 is not None else "- | -"
        print(
            f"| {row['variant']} | {row['device']} | {row['parameters_m']:.2f} | "
            f"{row['steps_per_s']:.2f} | {row['shapes_per_s']:.1f} | "
            f"{row['peak_memory_mb']:.0f} | {quality} |"
        )
    if args.quality_steps:
        print(f"(F-scores on 8 validation shapes after {args.quality_steps} training steps)")
    out = ROOT / "bench_results" / "bench_vae.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"batch": BATCH, "rows": rows}, indent=2), encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
