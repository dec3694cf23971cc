"""The README's runnable examples run (the ones for features that have landed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gen3d.data import BuildSpec, SamplingConfig, build_dataset

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block_after(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, f"no python example under {heading!r}"
    return match.group(1)


def test_shape_data_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = SamplingConfig(n_surface=300, n_near=300, n_volume=100, grid_resolution=40)
    build_dataset(BuildSpec(source="procedural", count=4, sampling=tiny), tmp_path / "data/shapes")
    monkeypatch.chdir(tmp_path)
    code = _python_block_after("### Shape data").replace(
        "SamplingConfig(n_surface=4096)", "SamplingConfig(n_surface=500, grid_resolution=40)"
    )
    exec(compile(code, "README.md", "exec"), {})


def test_mesh_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = (
        _python_block_after("### Meshes from fields")
        .replace("resolution=256", "resolution=64")
        .replace("face_count=20_000", "face_count=2_000")
    )
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "chair.glb").stat().st_size > 0


def test_dit_example_runs() -> None:
    exec(compile(_python_block_after("### Rectified-flow DiT"), "README.md", "exec"), {})


def test_render_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = _python_block_after("### Rendering, texture baking").replace(
        "resolution=256", "resolution=64"
    )
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "front.png").stat().st_size > 0
    assert (tmp_path / "sphere.gif").stat().st_size > 0
