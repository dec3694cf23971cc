"""The README's runnable examples run (the ones for features that have landed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gen3d.data import BuildSpec, SamplingConfig, build_dataset


def test_shape_data_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readme_python
) -> None:
    tiny = SamplingConfig(n_surface=300, n_near=300, n_volume=100, grid_resolution=40)
    build_dataset(BuildSpec(source="procedural", count=4, sampling=tiny), tmp_path / "data/shapes")
    monkeypatch.chdir(tmp_path)
    code = readme_python("### Shape data").replace(
        "SamplingConfig(n_surface=4096)", "SamplingConfig(n_surface=500, grid_resolution=40)"
    )
    exec(compile(code, "README.md", "exec"), {})


def test_mesh_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readme_python) -> None:
    monkeypatch.chdir(tmp_path)
    code = (
        readme_python("### Meshes from fields")
        .replace("resolution=256", "resolution=64")
        .replace("face_count=20_000", "face_count=2_000")
    )
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "chair.glb").stat().st_size > 0


def test_dit_example_runs(readme_python) -> None:
    exec(compile(readme_python("### Rectified-flow DiT"), "README.md", "exec"), {})


def test_render_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readme_python
) -> None:
    monkeypatch.chdir(tmp_path)
    code = readme_python("### Rendering, texture baking").replace("resolution=256", "resolution=64")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "front.png").stat().st_size > 0
    assert (tmp_path / "sphere.gif").stat().st_size > 0
