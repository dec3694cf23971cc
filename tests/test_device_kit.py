"""The GPU check kit (scripts/device_wheels, scripts/gpu_check) stays in step with the project."""

from __future__ import annotations

import re
import subprocess
from importlib import metadata
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_the_carried_wheels_are_the_versions_the_tests_run_with() -> None:
    text = (SCRIPTS / "device_wheels").read_text()
    pins = dict(re.findall(r"^\s+([A-Za-z0-9_.-]+)==([^\s#]+)", text, flags=re.MULTILINE))
    assert {"trimesh", "xatlas", "diffrp-nvdiffrast"} <= set(pins)
    for name in ("trimesh", "xatlas"):  # nvdiffrast (the cuda extra) is not installed here
        assert pins[name] == metadata.version(name), name


def test_the_gpu_check_is_valid_bash_that_runs_the_gpu_tests() -> None:
    script = SCRIPTS / "gpu_check"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "pytest -m gpu" in text and "--parts agreement" in text
