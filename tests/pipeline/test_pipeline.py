"""gen3d.Pipeline on a tiny real pipeline: stages, seeds, batches, progress, cancel, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import trimesh
from PIL import Image

from gen3d.images import ImageInputError
from gen3d.pipeline import (
    STAGES,
    GenerationCancelled,
    Pipeline,
    PipelineError,
    overall_progress,
)

pytestmark = pytest.mark.cost(30)  # seconds in the default run: scheduled early


def test_text_to_textured_glb(tiny_pipeline: Pipeline, tmp_path) -> None:
    asset = tiny_pipeline(prompt="a red sphere", seed=3)
    assert asset.metadata["prompt"] == "a red sphere" and asset.metadata["seed"] == 3
    # Straightening and refinement are for image input.
    assert set(asset.timings) == set(STAGES) - {"straighten", "refine"}
    assert asset.texture is not None and asset.texture.size == (64, 64)
    radius = np.linalg.norm(asset.mesh.vertices, axis=1)
    assert abs(np.median(radius) - 0.5) < 0.05  # the decoder's sphere
    (path,) = asset.save(tmp_path / "sphere.glb")
    loaded = trimesh.load(path, force="mesh")
    assert len(loaded.faces) == len(asset.mesh.faces)
    assert loaded.visual.material.baseColorTexture.size == (64, 64)


def test_same_seed_same_asset_and_batches_get_a_seed_each(tiny_pipeline: Pipeline) -> None:
    first = tiny_pipeline(prompt="a mug", seed=11, texture_size=0)
    again = tiny_pipeline(prompt="a mug", seed=11, texture_size=0)
    np.testing.assert_array_equal(first.mesh.vertices, again.mesh.vertices)
    assert first.mesh.visual.kind == "vertex"  # texture_size=0: vertex colours
    batch = tiny_pipeline(prompt=["a mug", "a lamp"], seed=5, texture_size=0)
    assert [a.metadata["seed"] for a in batch] == [5, 6]
    assert [a.metadata["prompt"] for a in batch] == ["a mug", "a lamp"]
    assert all(a.metadata["batch_size"] == 2 for a in batch)
    drawn = tiny_pipeline(prompt="a vase", texture_size=0)
    assert isinstance(drawn.metadata["seed"], int)  # a random seed, recorded


def test_field_precision_follows_the_dtype_setting(tiny_pipeline_path) -> None:
    import torch

    from gen3d.device import resolve_field_dtype

    cpu = torch.device("cpu")
    exact = Pipeline.from_pretrained(tiny_pipeline_path, device="cpu", dtype="float32")
    fast = Pipeline.from_pretrained(tiny_pipeline_path, device="cpu", dtype="bfloat16")
    assert exact.field_dtype == torch.float32
    assert fast.field_dtype == resolve_field_dtype("bfloat16", cpu)  # float32 if emulated
    fast.field_dtype = torch.bfloat16  # the same check on any CPU
    a = exact(prompt="a mug", seed=4, texture_size=0)
    b = fast(prompt="a mug", seed=4, texture_size=0)
    # The same sample, meshed from bfloat16 queries: the surface barely moves.
    radius_a = np.linalg.norm(a.mesh.vertices, axis=1)
    radius_b = np.linalg.norm(b.mesh.vertices, axis=1)
    assert abs(np.median(radius_a) - np.median(radius_b)) < 0.01
    assert abs(len(a.mesh.faces) - len(b.mesh.faces)) <= 0.02 * len(a.mesh.faces)


def test_the_gpu_precision_path_runs_end_to_end(tiny_pipeline_path, monkeypatch) -> None:
    # On a CUDA GPU, "auto" autocasts the encoders and the DiT to bfloat16 and queries the
    # field in bfloat16. The same flow through CPU autocast: features that came out
    # bfloat16 once met the query head's float32 weights outside autocast and crashed.
    import torch

    pipe = Pipeline.from_pretrained(tiny_pipeline_path, device="cpu", dtype="bfloat16")
    pipe.field_dtype = torch.bfloat16
    monkeypatch.setattr(
        Pipeline, "_autocast", lambda self: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    exact = Pipeline.from_pretrained(tiny_pipeline_path, device="cpu", dtype="float32")
    image = Image.new("RGB", (64, 64), "white")
    image.paste((200, 40, 40), (16, 16, 48, 48))
    for inputs in ({"prompt": "a red sphere"}, {"image": image}):
        asset = pipe(**inputs, seed=3, steps=3, texture_size=64)
        reference = exact(**inputs, seed=3, steps=3, texture_size=64)
        assert asset.texture is not None and len(asset.mesh.faces) > 0
        radius = np.median(np.linalg.norm(asset.mesh.vertices, axis=1))
        assert abs(radius - np.median(np.linalg.norm(reference.mesh.vertices, axis=1))) < 0.02


def test_progress_reports_every_stage_in_order_and_can_cancel(tiny_pipeline: Pipeline) -> None:
    events: list[tuple[str, float]] = []
    tiny_pipeline(
        prompt="a chair", seed=1, steps=3, callback=lambda s, f, info: events.append((s, f))
    )
    stages = [stage for stage, _ in events]
    assert sorted(set(stages), key=stages.index) == [
        s for s in STAGES if s not in ("straighten", "refine")
    ]
    samples = [fraction for stage, fraction in events if stage == "sample"]
    assert samples == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])

    def cancel_at_second_step(stage, fraction, info):
        return not (stage == "sample" and info.get("step") == 2)

    with pytest.raises(GenerationCancelled, match="step 2"):
        tiny_pipeline(prompt="a chair", seed=1, callback=cancel_at_second_step)


def test_a_batch_reports_progress_that_never_goes_back(tiny_pipeline: Pipeline) -> None:
    # Stage by stage, every mesh and then every texture (per item, the overall progress
    # went mesh, texture, mesh: backwards).
    events: list[tuple[str, float]] = []
    assets = tiny_pipeline(
        prompt=["a mug", "a lamp", "a vase"],
        seed=2,
        steps=2,
        callback=lambda stage, fraction, info: events.append((stage, fraction)),
    )
    assert all(asset.texture is not None for asset in assets)
    overall = [overall_progress(stage, fraction) for stage, fraction in events]
    assert overall == sorted(overall)
    stages = [stage for stage, _ in events]
    assert stages.count("mesh") == 3 and stages.count("texture") == 4  # + the final 1.0


def test_a_crashing_unwrap_fails_the_run_with_a_clear_error(
    tiny_pipeline: Pipeline, xatlas_crashes
) -> None:
    from gen3d.mesh import TextureError

    with pytest.raises(TextureError, match=r"cannot unwrap the mesh: xatlas crashed \(SIGSEGV\)"):
        tiny_pipeline(prompt=["a mug", "a lamp"], seed=2, steps=2)


def test_image_to_3d(tiny_pipeline: Pipeline, tmp_path, monkeypatch, caplog) -> None:
    canvas = np.full((96, 128, 3), 255, dtype=np.uint8)
    canvas[30:70, 40:90] = (200, 30, 30)
    photo = tmp_path / "photo.png"
    Image.fromarray(canvas).save(photo)
    asset = tiny_pipeline(image=photo, seed=2, texture_size=0)
    assert asset.metadata["image"] == "photo.png"
    assert len(asset.mesh.faces) > 100
    assert "warnings" not in asset.metadata  # a plain backdrop

    # The same object in a room: patches of other colours all along the edge.
    canvas[:, :30], canvas[:20, 30:], canvas[75:, 30:80] = (40, 90, 40), (90, 60, 30), (0, 0, 0)
    Image.fromarray(canvas).save(photo)
    asset = tiny_pipeline(image=photo, seed=2, texture_size=0)
    assert "background is not plain" in asset.metadata["warnings"][0]

    # The quick shape that straightening samples may fail where the real one would not.
    _make_quick_shapes_fail(monkeypatch)
    asset = tiny_pipeline(image=photo, seed=2, texture_size=0)
    monkeypatch.undo()
    assert len(asset.mesh.faces) > 100 and "straightened" not in asset.metadata

    # A photo found askew is turned back, and the warning about its background survives the
    # turn; the quick shape's log lines are silenced (so the warning is logged once), not
    # another thread's logging meanwhile.
    import logging
    import threading
    from types import SimpleNamespace

    import gen3d.image_view
    from gen3d.pipeline import STRAIGHTEN_STEPS

    real_sample = Pipeline._sample

    def quick_sample_logs(self, cond, uncond, seeds, opts, *args, **kwargs):
        if opts.steps == STRAIGHTEN_STEPS:
            logging.getLogger("gen3d.pipeline").warning("from the quick shape")
            other = threading.Thread(
                target=logging.getLogger("gen3d.pipeline").warning, args=("from a thread",)
            )
            other.start()
            other.join()
        return real_sample(self, cond, uncond, seeds, opts, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "_sample", quick_sample_logs)
    askew = SimpleNamespace(score=0.9, level_score=0.8, roll=10.0)
    monkeypatch.setattr(gen3d.image_view, "estimate_photo_view", lambda *a, **k: askew)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gen3d.pipeline"):
        asset = tiny_pipeline(image=photo, seed=2, texture_size=0)
    monkeypatch.undo()
    assert asset.metadata["straightened"] == 10.0 and asset.metadata["image"] == "photo.png"
    assert "background is not plain" in asset.metadata["warnings"][0]
    lines = [record.getMessage() for record in caplog.records]
    assert "from a thread" in lines and "from the quick shape" not in lines
    assert sum("background is not plain" in line for line in lines) == 1, lines
    assert any("photo.png looks turned +10 degrees" in line for line in lines)

    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), "white").save(blank)
    with pytest.raises(ImageInputError, match="no object"):
        tiny_pipeline(image=blank)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(ImageInputError, match="not a readable image"):
        tiny_pipeline(image=broken)


def test_a_photo_whose_upright_edges_lean_is_straightened_by_them(
    tiny_pipeline: Pipeline, tmp_path, monkeypatch
) -> None:
    """Where the quick shape's silhouettes find no turn (a box looks the same turned and seen
    from elsewhere), or there is no quick shape, the object's upright edges turn it back."""
    from types import SimpleNamespace

    import gen3d.image_view

    picture = Image.new("RGB", (160, 160), "white")
    picture.paste((120, 80, 40), (50, 20, 110, 140))
    picture.paste((220, 190, 150), (58, 28, 102, 132))
    photo = tmp_path / "cabinet.png"
    picture.rotate(9.0, resample=Image.Resampling.BICUBIC, fillcolor="white").save(photo)

    level = SimpleNamespace(score=0.9, level_score=None, roll=0.0)
    monkeypatch.setattr(gen3d.image_view, "estimate_photo_view", lambda *a, **k: level)
    asset = tiny_pipeline(image=photo, seed=2, texture_size=0)
    assert abs(asset.metadata["straightened"] - 9.0) <= 0.5, asset.metadata

    _make_quick_shapes_fail(monkeypatch)
    asset = tiny_pipeline(image=photo, seed=2, texture_size=0)
    assert abs(asset.metadata["straightened"] - 9.0) <= 0.5, asset.metadata


def _make_quick_shapes_fail(monkeypatch) -> None:
    """Straightening's quick shape (told apart by its sampling steps) finds no surface; the
    real run's shape is made as usual."""
    from gen3d.pipeline import STRAIGHTEN_STEPS, EmptyShapeError
    from gen3d.testing import TINY_DEFAULTS

    real_mesh = Pipeline._mesh
    assert TINY_DEFAULTS["steps"] != STRAIGHTEN_STEPS  # how the quick shape is told apart

    def quick_shape_fails(self, field_, opts, *args):
        if opts.steps == STRAIGHTEN_STEPS:
            raise EmptyShapeError("no surface")
        return real_mesh(self, field_, opts, *args)

    monkeypatch.setattr(Pipeline, "_mesh", quick_shape_fails)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "  "}, "prompt is empty"),
        ({}, "exactly one"),
        ({"prompt": "a", "image": "x.png"}, "exactly one"),
        ({"prompt": "a chair", "steps": 0}, "steps=0 is out of range"),
        ({"prompt": "a chair", "guidance": 99}, "guidance=99 is out of range"),
        ({"prompt": "a chair", "texture_size": 10}, "texture_size=10"),
        ({"prompt": "a chair", "colour": "red"}, "unknown options"),
        ({"prompt": "a chair", "textur_size": 512}, r"\(did you mean 'texture_size'\?\)"),
        ({"prompt": "a chair", "seed": -1}, "seed must be"),
        ({"prompt": "x" * 1001}, "limit is 1000"),
    ],
)
def test_bad_requests_fail_before_any_work(tiny_pipeline: Pipeline, kwargs, message) -> None:
    with pytest.raises(PipelineError, match=message):
        tiny_pipeline(**kwargs)


def test_loading_errors_name_the_problem(tmp_path, tiny_pipeline_path) -> None:
    with pytest.raises(PipelineError, match="not a gen3d pipeline folder"):
        Pipeline.from_pretrained(tmp_path)
    config = json.loads((tiny_pipeline_path / "pipeline.json").read_text())
    assert config["text_encoder"] == "default" and config["image_encoder"] == "small"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pipeline.json").write_text(json.dumps({**config, "sampler": "ddim"}))
    with pytest.raises(PipelineError, match="unknown keys"):
        Pipeline.from_pretrained(broken)


def test_image_inputs_take_the_image_defaults(tmp_path, tiny_pipeline_path) -> None:
    """A pipeline's ``image_defaults`` (say, other guidance for photos) apply to image
    inputs only, and what a caller passes still wins."""
    folder = tmp_path / "pipeline"
    shutil.copytree(tiny_pipeline_path, folder)
    config = json.loads((folder / "pipeline.json").read_text())
    config["image_defaults"] = {"guidance": 1.5, "steps": 3}
    (folder / "pipeline.json").write_text(json.dumps(config))
    pipe = Pipeline.from_pretrained(folder, device="cpu")
    photo = np.full((64, 64, 3), 255, dtype=np.uint8)
    photo[16:48, 20:44] = (30, 30, 200)
    fast = {"texture_size": 0, "resolution": 32}
    from_image = pipe(image=photo, seed=1, **fast).metadata
    assert (from_image["guidance"], from_image["steps"]) == (1.5, 3)
    from_text = pipe(prompt="a chair", seed=1, **fast).metadata
    assert (from_text["guidance"], from_text["steps"]) == (
        pipe.defaults.guidance,
        pipe.defaults.steps,
    )
    assert pipe(image=photo, seed=1, guidance=5.0, **fast).metadata["guidance"] == 5.0
    saved = json.loads((pipe.save_pretrained(tmp_path / "saved") / "pipeline.json").read_text())
    assert saved["image_defaults"] == {"guidance": 1.5, "steps": 3}

    for bad, message in (
        ({"colour": "red"}, "unknown image_defaults"),
        ({"guidance": 99}, "guidance=99"),
    ):
        (folder / "pipeline.json").write_text(json.dumps({**config, "image_defaults": bad}))
        with pytest.raises(PipelineError, match=message):
            Pipeline.from_pretrained(folder, device="cpu")


def test_readme_example_runs(tiny_pipeline_path, tmp_path, monkeypatch, readme_python) -> None:
    code = readme_python("### Generate: the pipeline")
    monkeypatch.chdir(tmp_path)
    # The README loads the packaged default model; the tiny one keeps this test fast.
    assert "Pipeline.from_pretrained()" in code
    code = code.replace(
        "Pipeline.from_pretrained()", f"Pipeline.from_pretrained({str(tiny_pipeline_path)!r})"
    )
    code = code.replace("texture_size=1024", "texture_size=64").replace("steps=25", "steps=2")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "chair.glb").stat().st_size > 0


def test_a_pipeline_can_refine_image_inputs_by_default(refining_by_default, tmp_path) -> None:
    """``image_defaults`` may refine (the default model's do): an unset refine_steps takes it,
    0 turns it off, and a vertex-coloured asset, with no texture to refine, skips the default
    but refuses refine_steps asked for by name."""
    pipe = refining_by_default
    canvas = np.full((64, 64, 3), 255, dtype=np.uint8)
    canvas[16:48, 20:44] = (40, 90, 200)  # a blue block on white
    photo = tmp_path / "block.png"
    Image.fromarray(canvas).save(photo)
    options = {"seed": 1, "texture_size": 64, "steps": 2, "resolution": 48}
    assert "refine" in pipe(image=photo, view="reference", **options).timings
    assert "refine" not in pipe(image=photo, refine_steps=0, **options).timings
    coloured = {**options, "texture_size": 0}
    assert "refine" not in pipe(image=photo, **coloured).timings
    with pytest.raises(PipelineError, match="set texture_size > 0"):
        pipe(image=photo, refine_steps=3, **coloured)
    with pytest.raises(PipelineError, match="refine_steps > 0"):
        pipe(image=photo, refine_steps=0, view="reference", **options)


def test_image_refinement_pulls_the_texture_towards_the_input(tiny_pipeline, tmp_path) -> None:
    import torch

    from gen3d.pipeline import reference_cameras
    from render import RenderMesh, render_mesh

    canvas = np.full((128, 128, 3), 255, dtype=np.uint8)
    yy, xx = np.mgrid[:128, :128]
    canvas[(yy - 64) ** 2 + (xx - 64) ** 2 < 40**2] = (220, 20, 20)  # a red disc
    photo = tmp_path / "red.png"
    Image.fromarray(canvas).save(photo)
    stages: list[str] = []
    options = {"seed": 5, "texture_size": 128}
    baked = tiny_pipeline(image=photo, **options)
    refined = tiny_pipeline(
        image=photo,
        refine_steps=60,
        view="reference",
        callback=lambda s, f, i: stages.append(s),
        **options,
    )
    assert "refine" in stages and "refine" in refined.timings
    reference = tiny_pipeline.config.reference_view
    assert refined.metadata["view"] == {
        "source": "reference",
        "azimuth": reference[0],
        "elevation": reference[1],
    }

    def mean_colour(asset, view) -> torch.Tensor:
        mesh = RenderMesh.from_trimesh(asset.mesh)
        out = render_mesh(mesh, reference_cameras(mesh.vertices, view, 96), shading="albedo")
        return out.color[out.mask].mean(0)

    red = torch.tensor([220, 20, 20]) / 255.0
    before = (mean_colour(baked, reference) - red).norm()
    after = (mean_colour(refined, reference) - red).norm()
    assert after < 0.5 * before, f"colour error {before:.3f} -> {after:.3f}"

    # By default the view is estimated from the image, and refinement pulls the texture
    # towards it as seen from there.
    estimated = tiny_pipeline(image=photo, refine_steps=60, **options)
    view = estimated.metadata["view"]
    assert view["source"] == "estimated" and 0.0 <= view["iou"] <= 1.0
    seen_from = (view["azimuth"], view["elevation"])
    before = (mean_colour(baked, seen_from) - red).norm()
    after = (mean_colour(estimated, seen_from) - red).norm()
    assert after < 0.5 * before, f"colour error {before:.3f} -> {after:.3f}"

    with pytest.raises(PipelineError, match="needs an image input"):
        tiny_pipeline(prompt="a chair", refine_steps=5)
    with pytest.raises(PipelineError, match="it needs an image and refine_steps"):
        tiny_pipeline(image=photo, view="reference", **options)
    with pytest.raises(PipelineError, match="elevation 95 is out of range"):
        tiny_pipeline(image=photo, refine_steps=5, view=(10, 95), **options)
    with pytest.raises(PipelineError, match="view 'front' is not one of auto, reference"):
        tiny_pipeline(image=photo, refine_steps=5, view="front", **options)


def test_overall_progress_runs_from_zero_to_one_in_stage_order() -> None:
    from gen3d.pipeline import STAGES, overall_progress

    points = [overall_progress(stage, f) for stage in STAGES for f in (0.0, 0.5, 1.0)]
    assert points[0] == 0.0 and points[-1] == 1.0
    assert points == sorted(points)
    assert overall_progress("unknown", 0.5) == 0.0
