"""The batch acceptance run: 20 prompts, the process killed halfway, run again: 20 assets and
a manifest that agrees with the files on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.cost(25)  # seconds in the default run: scheduled early


def _succeeded(manifest: Path) -> int:
    try:
        items = json.loads(manifest.read_text())["items"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(item["status"] == "succeeded" for item in items)


def test_twenty_prompts_killed_halfway_then_finished(tmp_path: Path, tiny_pipeline_path) -> None:
    prompts = tmp_path / "twenty.txt"
    prompts.write_text("".join(f"prop number {i}\n" for i in range(20)))
    library = tmp_path / "library"
    command = [
        sys.executable,
        "-m",
        "gen3d",
        "batch",
        str(prompts),
        "--out",
        str(library),
        "--model",
        str(tiny_pipeline_path),
        "--batch-size",
        "2",
    ]
    env = os.environ | {"GEN3D_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _succeeded(library / "manifest.json") < 10:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # halfway, wherever it was
    process.wait(10)
    assert _succeeded(library / "manifest.json") < 20

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    items = json.loads((library / "manifest.json").read_text())["items"]
    assert len(items) == 20 and all(item["status"] == "succeeded" for item in items)
    recorded = {item["files"][0] for item in items}
    on_disk = {f"assets/{path.name}" for path in (library / "assets").iterdir()}
    assert recorded == on_disk  # no missing file, no stray half-written one
    for item in items:
        assert (library / item["files"][0]).read_bytes()[:4] == b"glTF"
        assert (library / item["thumbnail"]).is_file()
