"""scripts/soup_pipelines.py: two fine-tunes of one pipeline averaged into a third."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from gen3d.pipeline import Pipeline

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "soup_pipelines.py"
WEIGHTS = "diffusion_pytorch_model.safetensors"


def load_script():
    spec = importlib.util.spec_from_file_location("soup_pipelines", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shifted_copy(source: Path, dest: Path, sub: str, shift: float) -> Path:
    """A copy of the pipeline with every float weight in ``sub`` moved by ``shift``."""
    shutil.copytree(source, dest)
    path = dest / sub / WEIGHTS
    tensors = load_file(path)
    save_file({k: v + shift if v.is_floating_point() else v for k, v in tensors.items()}, path)
    return dest


def run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_soup_interpolates_the_dit_and_image_encoder_and_generates(
    tmp_path: Path, tiny_pipeline_path: Path
) -> None:
    # Small shifts, so that the soup still makes a shape.
    b = shifted_copy(tiny_pipeline_path, tmp_path / "b", "dit", 0.02)
    shift_image = load_file(b / "conditioning/image" / WEIGHTS)
    save_file({k: v - 0.04 for k, v in shift_image.items()}, b / "conditioning/image" / WEIGHTS)
    out = tmp_path / "soup"
    result = run(
        "--a", str(tiny_pipeline_path), "--b", str(b), "--weight", "0.25", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for sub, moved in (("dit", 0.005), ("conditioning/image", -0.01)):
        original = load_file(tiny_pipeline_path / sub / WEIGHTS)
        mixed = load_file(out / sub / WEIGHTS)
        for name, tensor in original.items():
            assert torch.allclose(mixed[name], tensor + moved, atol=1e-6), (sub, name)
    # Everything else comes from A unchanged.
    assert (out / "vae" / WEIGHTS).read_bytes() == (
        tiny_pipeline_path / "vae" / WEIGHTS
    ).read_bytes()
    assert json.loads((out / "pipeline.json").read_text()) == json.loads(
        (tiny_pipeline_path / "pipeline.json").read_text()
    )
    assert "0.25 soup of" in json.loads((out / "dit" / "config.json").read_text())["_name_or_path"]
    pipe = Pipeline.from_pretrained(out, device="cpu")
    assert len(pipe(prompt="a chair", seed=0, steps=2, texture_size=0).mesh.faces) > 0


def test_weight_zero_gives_a_back(tmp_path: Path, tiny_pipeline_path: Path) -> None:
    b = shifted_copy(tiny_pipeline_path, tmp_path / "b", "dit", 3.0)
    load_script().soup_pipelines(tiny_pipeline_path, b, 0.0, tmp_path / "soup")
    original = load_file(tiny_pipeline_path / "dit" / WEIGHTS)
    mixed = load_file(tmp_path / "soup" / "dit" / WEIGHTS)
    assert all(torch.equal(mixed[k], v.float()) for k, v in original.items())


def test_a_vae_saved_again_with_other_metadata_still_matches(
    tmp_path: Path, tiny_pipeline_path: Path
) -> None:
    b = shifted_copy(tiny_pipeline_path, tmp_path / "b", "dit", 0.01)
    vae = b / "vae" / WEIGHTS
    save_file(load_file(vae), vae, metadata={"saved_by": "another tool"})
    assert vae.read_bytes() != (tiny_pipeline_path / "vae" / WEIGHTS).read_bytes()
    load_script().soup_pipelines(tiny_pipeline_path, b, 0.5, tmp_path / "soup")
    assert (tmp_path / "soup" / "pipeline.json").is_file()


def test_text_only_pipelines_soup_their_dits(tmp_path: Path, tiny_pipeline_path: Path) -> None:
    a = tmp_path / "a"
    shutil.copytree(tiny_pipeline_path, a)
    shutil.rmtree(a / "conditioning" / "image")
    b = shifted_copy(a, tmp_path / "b", "dit", 0.02)
    module = load_script()
    module.soup_pipelines(a, b, 0.5, tmp_path / "soup")
    mixed = load_file(tmp_path / "soup" / "dit" / WEIGHTS)
    assert all(
        torch.allclose(mixed[k], v + 0.01, atol=1e-6)
        for k, v in load_file(a / "dit" / WEIGHTS).items()
    )
    assert not (tmp_path / "soup" / "conditioning" / "image").exists()
    with pytest.raises(module.SoupError, match="has conditioning/image/"):
        module.soup_pipelines(a, tiny_pipeline_path, 0.5, tmp_path / "o")


def test_a_broken_weights_file_is_named_and_leaves_nothing(
    tmp_path: Path, tiny_pipeline_path: Path
) -> None:
    b = shifted_copy(tiny_pipeline_path, tmp_path / "b", "dit", 0.01)
    (b / "conditioning" / "image" / WEIGHTS).write_bytes(b"not a safetensors file")
    module = load_script()
    with pytest.raises(module.SoupError, match="conditioning/image/diffusion_pytorch_model"):
        module.soup_pipelines(tiny_pipeline_path, b, 0.5, tmp_path / "soup")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["b"]


def test_pipelines_that_cannot_be_averaged_are_refused(
    tmp_path: Path, tiny_pipeline_path: Path
) -> None:
    module = load_script()
    other_vae = shifted_copy(tiny_pipeline_path, tmp_path / "v", "vae", 0.1)
    with pytest.raises(module.SoupError, match="different VAEs"):
        module.soup_pipelines(tiny_pipeline_path, other_vae, 0.5, tmp_path / "o1")
    wider = tmp_path / "w"
    shutil.copytree(tiny_pipeline_path, wider)
    config = json.loads((wider / "dit" / "config.json").read_text())
    config["width"] = config["width"] * 2
    (wider / "dit" / "config.json").write_text(json.dumps(config))
    with pytest.raises(module.SoupError, match="dit: the two configs differ"):
        module.soup_pipelines(tiny_pipeline_path, wider, 0.5, tmp_path / "o2")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    result = run(
        "--a", str(tiny_pipeline_path), "--b", str(tmp_path), "--out", str(tmp_path / "o3")
    )
    assert result.returncode == 2 and "no pipeline.json" in result.stderr
    result = run(
        "--a", str(tiny_pipeline_path), "--b", str(other_vae), "--weight", "1.5", "--out", "x"
    )
    assert result.returncode == 2 and "--weight must be in [0, 1]" in result.stderr
    assert "Traceback" not in result.stderr
