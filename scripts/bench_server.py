"""Benchmark the service: jobs per minute and latency at several client concurrencies.

    .venv/bin/python scripts/bench_server.py                       # tiny pipeline, CPU
    .venv/bin/python scripts/bench_server.py --model PIPELINE --concurrency 1,8,32

Starts a real ``gen3d serve`` (embedded worker) over a temporary data directory, then for
each concurrency C runs C client threads that each submit a job, follow its event stream to
its end, and submit the next. Latency is submission to final state as the client sees it.

The baseline, in the same run and process-free: the same job done directly in Python (the
pipeline call, saving the asset and its preview, as the worker does). Queue overhead per job
is the service's latency at concurrency 1 minus that baseline (HTTP, the store's
transactions, the event stream's polling), and the same from the job's own created and
finished times (the server's share).

Prints a Markdown table and writes bench_results/bench_server.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

JOB = {"steps": 4, "resolution": 48, "texture_size": 0}


def start_server(model: Path, data_dir: Path, port: int) -> subprocess.Popen:
    env = os.environ | {
        "GEN3D_DATA_DIR": str(data_dir),
        "GEN3D_MODEL_PATH": str(model),
        "GEN3D_DEVICE": "cpu",
        "GEN3D_LOG_LEVEL": "WARNING",
        "GEN3D_RATE_LIMIT_PER_MINUTE": "0",
        "GEN3D_MAX_QUEUED_PER_KEY": "10000",
    }
    command = [sys.executable, "-m", "gen3d", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not become ready")


def run_job(client: httpx.Client, url: str, prompt: str) -> dict:
    """Submit, then follow the job's event stream to its end (as a real client would)."""
    start = time.perf_counter()
    job = client.post(f"{url}/generate", json={"prompt": prompt, **JOB}).json()
    with client.stream("GET", f"{url}/jobs/{job['id']}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                job = json.loads(line[6:])
    if job["status"] != "succeeded":
        raise SystemExit(f"job failed: {job}")
    created = datetime.fromisoformat(job["created_at"])
    finished = datetime.fromisoformat(job["finished_at"])
    return {
        "latency": time.perf_counter() - start,
        "server": (finished - created).total_seconds(),
        "pipeline": job["result"]["timings"],
    }


def measure(url: str, concurrency: int, jobs: int) -> dict:
    results: list[dict] = []
    lock = threading.Lock()
    counter = iter(range(jobs))

    def client_loop() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                outcome = run_job(client, url, f"benchmark object {index}")
                with lock:
                    results.append(outcome)

    start = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    latencies = sorted(r["latency"] for r in results)
    return {
        "concurrency": concurrency,
        "jobs": len(results),
        "jobs_per_minute": 60.0 * len(results) / wall,
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        "server_p50_s": statistics.median(r["server"] for r in results),
        "pipeline_s": statistics.median(sum(r["pipeline"].values()) for r in results),
    }


def direct_baseline(model: Path, repeats: int) -> float:
    """Seconds per job done in process: the pipeline, the asset and its preview."""

    from gen3d.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(model, device="cpu")
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(repeats + 1):
            start = time.perf_counter()
            asset = pipe(prompt=f"benchmark object {index}", **JOB)
            asset.save(Path(folder) / "asset.glb")
            asset.preview(Path(folder) / "preview.png", views=4, resolution=256)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first is the warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="pipeline folder (default: the tiny one)")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--jobs", type=int, default=32, help="jobs per concurrency level")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, default=Path("bench_results/bench_server.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gen3d-bench-server-") as scratch:
        model = args.model
        if model is None:
            from gen3d.testing import save_tiny_pipeline

            model = save_tiny_pipeline(Path(scratch) / "tiny")
        baseline = direct_baseline(model, repeats=8)
        server = start_server(model, Path(scratch) / "data", args.port)
        url = f"http://127.0.0.1:{args.port}"
        try:
            run_job(httpx.Client(timeout=60), url, "warm-up")
            rows = [
                measure(url, int(c), max(args.jobs, int(c))) for c in args.concurrency.split(",")
            ]
        finally:
            server.terminate()
            server.wait(30)

    single = next((row for row in rows if row["concurrency"] == 1), rows[0])
    overhead = single["p50_s"] - baseline
    server_overhead = single["server_p50_s"] - baseline
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"baseline, in process: {baseline:.3f} s/job ({60 / baseline:.1f} jobs/min)")
    print(
        f"overhead per job at concurrency 1 (p50 - baseline): {overhead * 1000:.0f} ms as the "
        f"client sees it, {server_overhead * 1000:.0f} ms in the server (created to finished)"
    )
    print()
    print("| concurrency | jobs | jobs/min | p50 latency (s) | p95 latency (s) |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['concurrency']} | {row['jobs']} | {row['jobs_per_minute']:.1f} "
            f"| {row['p50_s']:.2f} | {row['p95_s']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "baseline_s": baseline,
        "overhead_s": overhead,
        "server_overhead_s": server_overhead,
        "rows": rows,
        "job": JOB,
    }
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
