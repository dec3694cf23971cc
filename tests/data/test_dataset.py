"""Dataset build (sharded, resumable, tolerant of bad meshes) and the torch reader."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gen3d.cli import app
from gen3d.data import BuildSpec, DatasetError, SamplingConfig, ShapeDataset, build_dataset
from gen3d.data.shards import split_of

MESHES = Path(__file__).resolve().parents[1] / "fixtures" / "meshes"
TINY = SamplingConfig(n_surface=300, n_near=300, n_volume=200, grid_resolution=48)


def _spec(**overrides) -> BuildSpec:
    values = dict(
        source="procedural",
        count=6,
        shard_size=2,
        sampling=TINY,
        categories=("chair", "mug", "ring"),
    )
    values.update(overrides)
    return BuildSpec(**values)


def _index(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()]


def test_build_writes_shards_and_an_index(tmp_path: Path) -> None:
    progress = []
    report = build_dataset(_spec(), tmp_path / "ds", on_progress=lambda d, t: progress.append(d))
    assert report.shapes == 6 and report.shards_built == 3 and not report.failures
    assert progress[-1] == 6
    entries = _index(tmp_path / "ds")
    assert [e["id"] for e in entries] == [
        "chair/0",
        "mug/0",
        "ring/0",
        "chair/1",
        "mug/1",
        "ring/1",
    ]
    assert all(e["captions"] and e["split"] in ("train", "val", "test") for e in entries)
    assert {e["shard"] for e in entries} == {f"shard-0000{i}.safetensors" for i in range(3)}
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert meta["shapes"] == 6 and sum(meta["splits"].values()) == 6


def test_an_interrupted_build_resumes_where_it_stopped(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    build_dataset(_spec(), root)
    before = _index(root)
    shard_bytes = (root / "shard-00001.safetensors").read_bytes()
    # Simulate a stop during shard 1: its files are gone, a temporary file is left behind.
    (root / "shard-00001.json").unlink()
    (root / "shard-00001.safetensors").unlink()
    (root / "shard-00001.safetensors.tmp").write_bytes(b"partial")
    report = build_dataset(_spec(), root)
    assert (report.shards_built, report.shards_skipped) == (1, 2)
    assert _index(root) == before
    assert (root / "shard-00001.safetensors").read_bytes() == shard_bytes  # same work, same file


def test_parallel_build_matches_serial_build(tmp_path: Path) -> None:
    build_dataset(_spec(), tmp_path / "serial", workers=1)
    build_dataset(_spec(), tmp_path / "parallel", workers=2)
    assert _index(tmp_path / "serial") == _index(tmp_path / "parallel")
    for name in ("shard-00000.safetensors", "shard-00002.safetensors"):
        assert (tmp_path / "serial" / name).read_bytes() == (
            tmp_path / "parallel" / name
        ).read_bytes()


def test_a_folder_with_another_build_is_refused(tmp_path: Path) -> None:
    build_dataset(_spec(), tmp_path / "ds")
    with pytest.raises(DatasetError, match="other options"):
        build_dataset(_spec(count=8), tmp_path / "ds")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        build_dataset(_spec(), tmp_path / "other")


def test_mesh_build_skips_bad_meshes_and_reads_captions(tmp_path: Path) -> None:
    folder = tmp_path / "meshes"
    (folder / "animals").mkdir(parents=True)
    shutil.copy(MESHES / "real" / "rabbit.obj", folder / "animals" / "rabbit.obj")
    (folder / "animals" / "rabbit.txt").write_text("a white rabbit\na bunny\n")
    shutil.copy(MESHES / "real" / "BoxTextured.glb", folder / "box.glb")
    shutil.copy(MESHES / "malformed" / "soup.stl", folder / "soup.stl")
    (folder / "readme.md").write_text("not a mesh")
    report = build_dataset(
        BuildSpec(source="meshes", mesh_folder=str(folder), sampling=TINY), tmp_path / "ds"
    )
    assert report.shapes == 2
    assert [f["id"] for f in report.failures] == ["soup.stl"]
    assert "triangle soup" in report.failures[0]["error"]
    by_id = {e["id"]: e for e in _index(tmp_path / "ds")}
    assert by_id["animals/rabbit.obj"]["captions"] == ["a white rabbit", "a bunny"]
    assert by_id["animals/rabbit.obj"]["category"] == "animals"
    assert by_id["box.glb"]["has_colour"] and not by_id["animals/rabbit.obj"]["has_colour"]


def test_dataset_reads_items_lazily_with_random_subsets(tmp_path: Path) -> None:
    build_dataset(_spec(), tmp_path / "ds")
    everything = ShapeDataset(tmp_path / "ds", split=None, n_surface=100, n_near=50, n_volume=None)
    assert len(everything) == 6
    item = everything[1]
    assert item["surface_points"].shape == (100, 3) and item["near_sdf"].shape == (50,)
    assert item["volume_points"].shape == (200, 3)  # None: every stored point
    assert item["id"] == everything.entries[1]["id"] == "mug/0"
    assert item["caption"] in everything.entries[1]["captions"]
    assert item["surface_points"].dtype == torch.float32 and item["has_colour"]
    # Unseeded: a new subset each time; seeded: the same one.
    assert not torch.equal(everything[1]["surface_points"], everything[1]["surface_points"])
    seeded = ShapeDataset(tmp_path / "ds", split=None, n_surface=100, seed=3)
    assert torch.equal(seeded[2]["surface_points"], seeded[2]["surface_points"])
    splits = Counter(e["split"] for e in everything.entries)
    assert len(ShapeDataset(tmp_path / "ds", split="train")) == splits["train"]
    batch = next(iter(torch.utils.data.DataLoader(everything, batch_size=3)))
    assert batch["near_points"].shape == (3, 50, 3) and len(batch["caption"]) == 3


def test_reader_refuses_unfinished_or_wrong_folders(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a finished dataset"):
        ShapeDataset(tmp_path)
    with pytest.raises(DatasetError, match="split"):
        ShapeDataset(tmp_path, split="training")


def test_splits_are_fixed_by_key_and_follow_the_fractions() -> None:
    keys = [f"chair/{i}" for i in range(20_000)]
    counts = Counter(split_of(k, (0.9, 0.05)) for k in keys)
    assert abs(counts["train"] / len(keys) - 0.9) < 0.01
    assert abs(counts["val"] / len(keys) - 0.05) < 0.01
    assert [split_of(k, (0.9, 0.05)) for k in keys[:50]] == [
        split_of(k, (0.9, 0.05)) for k in keys[:50]
    ]


def test_cli_build_info_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "ds"
    args = [
        "dataset",
        "build",
        "--procedural",
        "3",
        "--out",
        str(out),
        "--workers",
        "1",
        "--surface",
        "200",
        "--near",
        "200",
        "--volume",
        "100",
        "--grid",
        "32",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 shapes" in result.output
    info = runner.invoke(app, ["dataset", "info", str(out), "--json"])
    assert info.exit_code == 0 and json.loads(info.output)["shapes"] == 3
    both = runner.invoke(
        app,
        [
            "dataset",
            "build",
            "--procedural",
            "3",
            "--meshes",
            str(tmp_path),
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert both.exit_code != 0
    assert "exactly one of" in str(both.exception) + both.output
    listed = runner.invoke(app, ["dataset", "categories"])
    assert "chair" in listed.output.split()
    assert np.isfinite(ShapeDataset(out, split=None)[0]["volume_sdf"].numpy()).all()
