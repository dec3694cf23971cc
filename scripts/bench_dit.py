"""Benchmark the DiT: training tokens/s (and MFU on GPU), sampling latency per asset.

    .venv/bin/python scripts/bench_dit.py                 # ~2 min on 2 CPU cores
    .venv/bin/python scripts/bench_dit.py --width 512 --depth 12

Models: both variants (``dit-cross``, ``mmdit``) at the given size, on vecset-shaped latents
(64 tokens x 16 channels, the small VAE's) with MiniLM-shaped conditions (32 tokens x 384).
Training: tokens/s = batch x latent tokens x steps/s (median step after warm-up), and on
CUDA the model FLOPs utilisation against this GPU's bf16 matmul peak, measured in the same
run. Sampling: seconds per asset (batch 1, classifier-free guidance, so two model
evaluations per step) at 8/16/32/50 steps. Prints Markdown tables and writes
bench_results/bench_dit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from dit import build_dit
from dit.flow import Conditioning, flow_matching_loss
from dit.sampling import sample_latents

ROOT = Path(__file__).resolve().parents[1]
LATENT_SHAPE = (64, 16)
COND_TOKENS, COND_DIM = 32, 384


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def conditions(batch: int, device: torch.device) -> Conditioning:
    return Conditioning(
        torch.randn(batch, COND_TOKENS, COND_DIM, device=device),
        torch.randn(batch, COND_DIM, device=device),
        torch.ones(batch, COND_TOKENS, dtype=torch.bool, device=device),
    )


def matmul_peak_tflops(device: torch.device) -> float:
    """This GPU's measured bf16 matmul throughput (the MFU denominator)."""
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(20):
        a @ b
    _sync(device)
    return 20 * 2 * 8192**3 / (time.perf_counter() - start) / 1e12


def bench_training(model, device: torch.device, batch: int, steps: int) -> dict:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    cond = conditions(batch, device)
    latents = torch.randn(batch, *LATENT_SHAPE, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    times = []
    for index in range(steps + 3):
        _sync(device)
        start = time.perf_counter()
        with autocast:
            loss = flow_matching_loss(model, latents, cond)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(device)
        if index >= 3:
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    tokens = batch * LATENT_SHAPE[0]
    params = sum(p.numel() for p in model.parameters())
    # 6 N FLOPs per token for forward + backward (attention's extra terms left out: the
    # sequences are short), the usual approximation behind MFU figures.
    return {
        "tokens_per_s": tokens / step_s,
        "step_s": step_s,
        "train_tflops": 6 * params * tokens / step_s / 1e12,
    }


def bench_sampling(model, device: torch.device, steps: int, repeats: int) -> float:
    cond, uncond = conditions(1, device), conditions(1, device)
    times = []
    for _ in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        sample_latents(model, cond, uncond, steps=steps, guidance=3.0)
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--batch", type=int, default=16, help="training batch")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--repeats", type=int, default=3, help="timed samples per setting")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    peak = matmul_peak_tflops(device) if device.type == "cuda" else None
    rows = []
    for variant in ("dit-cross", "mmdit"):
        torch.manual_seed(0)
        model = build_dit(
            variant,
            latent_shape=LATENT_SHAPE,
            width=args.width,
            depth=args.depth,
            heads=max(1, args.width // 64),
            cond_dim=COND_DIM,
            pooled_dim=COND_DIM,
        ).to(device)
        row = {
            "variant": variant,
            "device": device.type,
            "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
            **bench_training(model, device, args.batch, args.steps),
        }
        if peak:
            row["mfu"] = row["train_tflops"] / peak
        model.eval()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            row["sample_s"] = {
                str(n): bench_sampling(model, device, n, args.repeats) for n in (8, 16, 32, 50)
            }
        rows.append(row)
        print(f"measured {variant}", flush=True)

    where = torch.cuda.get_device_name() if device.type == "cuda" else f"{os.cpu_count()} cores"
    print(f"\nDiT width {args.width}, depth {args.depth}, batch {args.batch} ({where})")
    print("| variant | params (M) | train tokens/s | MFU | s/asset at 8 / 16 / 32 / 50 steps |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        mfu = f"{row['mfu']:.1%}" if "mfu" in row else "n/a (CPU)"
        latency = " / ".join(f"{row['sample_s'][n]:.2f}" for n in ("8", "16", "32", "50"))
        print(
            f"| {row['variant']} | {row['parameters_m']:.2f} | {row['tokens_per_s']:.0f} | "
            f"{mfu} | {latency} |"
        )
    if peak:
        print(f"(bf16 matmul peak measured here: {peak:.0f} TFLOP/s)")
    out = ROOT / "bench_results" / "bench_dit.json"
    out.parent.mkdir(exist_ok=True)
    record = {"args": vars(args), "platform": platform.platform(), "peak_tflops": peak}
    out.write_text(json.dumps({**record, "rows": rows}, indent=2), encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
