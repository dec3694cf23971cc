"""The shipped default model, as a fresh install meets it: offline, from the package folder.

Prompts of every procedural category (captions of shapes the model never saw: seeds far
outside the training set's) must give shapes the shipped classifier recognises, in the
colour the prompt names; an image of a shape must give that shape back.
"""

from __future__ import annotations

import pytest

from gen3d.data.procedural import generate_shape, list_categories
from gen3d.pipeline import DEFAULT_MODEL_DIR, PIPELINE_FILE

pytestmark = [
    pytest.mark.skipif(
        not (DEFAULT_MODEL_DIR / PIPELINE_FILE).is_file(),
        reason=f"no default weights in {DEFAULT_MODEL_DIR} (scripts/ship_default.py makes them)",
    ),
    pytest.mark.cost(120),  # seconds in the default run: scheduled first (tests/conftest.py)
]

#: vertex colours and a coarser grid: the shape and its colours are what is checked here.
#: At 96 rather than 128 the 33-prompt batch takes 51 s instead of 78 s (1 thread), with the
#: same scores: category accuracy 0.94 (0.91 at 128), colour 0.97, image F@0.05 0.956 / 0.75
#: from the reference view / other sides (0.955 / 0.753 at 128).
FAST = {"texture_size": 0, "resolution": 96}
UNSEEN_SEED = 900_000


@pytest.fixture(scope="module")
def default_pipeline():
    from gen3d.pipeline import Pipeline

    return Pipeline.from_pretrained(DEFAULT_MODEL_DIR, device="cpu")


@pytest.fixture(scope="module")
def classifier():
    from gen3d.cli.evaluate import DEFAULT_CLASSIFIER
    from gen3d.eval.classifier import PointCloudClassifier

    return PointCloudClassifier.from_pretrained(DEFAULT_CLASSIFIER)


def test_loads_offline_from_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from gen3d.pipeline import Pipeline, resolve_model_path

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert resolve_model_path(None) == DEFAULT_MODEL_DIR
    pipe = Pipeline.from_pretrained(device="cpu")  # no path: the packaged default
    assert pipe.image_encoder is not None, "the default model takes images too"
    assert (DEFAULT_MODEL_DIR / "MODEL_CARD.md").is_file()
    size = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.rglob("*") if p.is_file())
    assert size <= 40 * 2**20


@pytest.fixture(scope="module")
def category_prompts(default_pipeline) -> list[tuple[str, str, object]]:
    """(category, prompt, mesh) for one unseen caption of every category."""
    categories = list_categories()
    prompts = [
        generate_shape(category, seed=UNSEEN_SEED + index).caption
        for index, category in enumerate(categories)
    ]
    # One batch: sampled together, 33 prompts take about as long as 4 one by one.
    assets = default_pipeline(prompt=prompts, seed=list(range(len(prompts))), **FAST)
    return [
        (category, prompt, asset.mesh)
        for category, prompt, asset in zip(categories, prompts, assets, strict=True)
    ]


# The acceptance, in the default run: one generation per category, about a minute
# at one thread.
def test_every_category_is_recognisable(category_prompts, classifier) -> None:
    misses = []
    for category, prompt, mesh in category_prompts:
        assert len(mesh.faces) > 100, f"{prompt!r} gave no surface"
        predicted = classifier.classify_mesh(mesh)
        if predicted != category:
            misses.append(f"{prompt!r} -> {predicted}")
    # The target: category accuracy >= 0.8.
    assert 1 - len(misses) / len(category_prompts) >= 0.8, misses


def test_every_category_comes_in_the_named_colour(category_prompts) -> None:
    from gen3d.eval.colour import named_colour, shown_colours

    named = [(prompt, mesh) for _, prompt, mesh in category_prompts if named_colour(prompt)]
    coloured = sum(named_colour(prompt) in shown_colours(mesh) for prompt, mesh in named)
    # The target: colour accuracy >= 0.7.
    assert coloured / len(named) >= 0.7


def image_f_scores(pipeline, shots: list[tuple[str, int, tuple[float, float]]]) -> list[float]:
    """F@0.05 of what ``pipeline`` makes from a render of each unseen shape ``index`` of
    ``category`` seen from ``view`` in ``shots`` (sampled with seed ``index``, in one batch)."""
    from gen3d.data.renders import reference_render
    from gen3d.data.sampling import SamplingConfig, sample_sdf
    from gen3d.eval.harness import shape_scores

    shapes = [generate_shape(category, seed=UNSEEN_SEED + index) for category, index, _ in shots]
    renders = [
        reference_render(shape, view, 256) for shape, (*_, view) in zip(shapes, shots, strict=True)
    ]
    assets = pipeline(image=renders, seed=[index for _, index, _ in shots], **FAST)
    scores = []
    for shape, asset in zip(shapes, assets, strict=True):
        truth = sample_sdf(shape, SamplingConfig(n_surface=8192, n_near=16, n_volume=16))
        scores.append(
            shape_scores(
                asset.mesh, truth.surface_points, truth.surface_normals, shape, taus=(0.05,)
            )["f@0.05"]
        )
    return scores


def test_image_of_a_shape_gives_that_shape_back(default_pipeline) -> None:
    view = tuple(default_pipeline.config.reference_view)
    shots = [(category, index, view) for index, category in enumerate(("table", "mug", "lamp"))]
    scores = image_f_scores(default_pipeline, shots)
    # The target is image-to-3D F@0.05 >= 0.7 on average over held-out shapes.
    assert sum(scores) / len(scores) >= 0.7, scores


def test_an_image_from_another_side_gives_that_shape_back(default_pipeline) -> None:
    """Photos are taken from anywhere, not from the reference view the model first learnt.
    Measured on these six unseen shapes at 128: mean F@0.05 0.68 for the first model
    fine-tuned on renders from random views (dit-views-2.yaml), 0.54 for the model before;
    0.75 for the shipped model, at 128 and at 96."""
    views = ((200.0, 30.0), (110.0, 10.0), (300.0, 40.0))  # back-left, right, front-right
    shots = [
        (category, index, view)
        for categories in (("chair", "bottle", "toy_car"), ("sailboat", "sofa", "rocket"))
        for index, (category, view) in enumerate(zip(categories, views, strict=True))
    ]
    scores = image_f_scores(default_pipeline, shots)
    assert sum(scores) / len(scores) >= 0.6, scores


def test_a_photo_taken_askew_is_straightened_first(default_pipeline) -> None:
    """The image encoder learnt upright objects: a photo turned 12 degrees lost F@0.05 0.87
    -> 0.70 on 10 held-out shapes, 0.86 once straightened (scripts/bench_pose.py --parts
    straighten)."""
    import numpy as np
    from PIL import Image

    from gen3d.mesh import extract_hierarchical, vertex_colours
    from gen3d.pipeline import reference_cameras
    from render import RenderMesh, render_mesh

    for index, (category, roll) in enumerate((("hammer", 12.0), ("sword", -12.0))):
        shape = generate_shape(category, seed=UNSEEN_SEED + index)
        mesh = extract_hierarchical(shape, 64).mesh
        vertex_colours(shape, mesh)
        drawable = RenderMesh.from_trimesh(mesh)
        cameras = reference_cameras(drawable.vertices, (200.0, 25.0, roll), 256)
        colour = render_mesh(drawable, cameras, shading="lambert").color[0].clamp(0, 1)
        photo = Image.fromarray((colour.numpy() * 255 + 0.5).astype(np.uint8))
        asset = default_pipeline(image=photo, seed=index, **FAST)
        assert abs(asset.metadata["straightened"] - roll) <= 3.0, asset.metadata
    level = default_pipeline(image=photo, seed=0, straighten=False, **FAST)
    assert "straightened" not in level.metadata and "straighten" not in level.timings


def test_an_image_input_is_refined_against_the_photo_by_default(default_pipeline) -> None:
    """The default model refines an image input's texture against the photo (50 steps, from
    the view estimated on the generated mesh): the lamp's colours seen from the photo's view
    come closer to the true ones (13.7 dB unrefined, 18.8 refined, when written). A
    vertex-coloured asset has no texture to refine: the default then skips refinement."""
    import numpy as np
    from PIL import Image

    from gen3d.mesh import extract_hierarchical, vertex_colours
    from gen3d.pipeline import reference_cameras
    from render import RenderMesh, psnr, render_mesh

    lamp = generate_shape("lamp", seed=1005)
    mesh = extract_hierarchical(lamp, 64).mesh
    vertex_colours(lamp, mesh)
    truth = RenderMesh.from_trimesh(mesh)
    view = (60.0, 20.0)
    lit = render_mesh(truth, reference_cameras(truth.vertices, view, 256), shading="lambert")
    photo = Image.fromarray((lit.color[0].clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))

    def colour_psnr(asset) -> float:
        drawn = RenderMesh.from_trimesh(asset.mesh)
        seen, true = (
            render_mesh(m, reference_cameras(m.vertices, view, 192), shading="albedo")
            for m in (drawn, truth)
        )
        return psnr(seen.color[0], true.color[0], seen.mask[0] & true.mask[0])

    options = {"seed": 0, "texture_size": 256, "resolution": 96}
    refined = default_pipeline(image=photo, **options)
    assert "refine" in refined.timings and refined.metadata["view"]["source"] == "estimated"
    gains = refined.metadata["colour_cast"]  # the white balance of the generated texture
    assert len(gains) == 3 and all(0.5 <= gain <= 2.0 for gain in gains)
    plain = default_pipeline(image=photo, refine_steps=0, **options)
    assert "refine" not in plain.timings
    assert colour_psnr(refined) > colour_psnr(plain) + 2.0
    coloured = default_pipeline(image=photo, **{**options, "texture_size": 0})
    assert "refine" not in coloured.timings


def test_the_readme_generate_command_makes_a_textured_chair(
    clean_env, tmp_path, run_cli, classifier
):
    """The README's first command, as written (no --model): a textured GLB that the
    classifier calls a chair, in the colour the prompt names."""
    import re
    import shlex
    from pathlib import Path

    import trimesh

    from gen3d.eval.colour import named_colour, shown_colours

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    command = re.search(r"^scripts/gen3d (generate [^#\n]*)", readme, flags=re.MULTILINE)
    assert command, "the README's set-up block lost its generate command"
    args = shlex.split(command.group(1))
    assert "--model" not in args
    if "--seed" not in args:  # the README leaves the seed random; a test must not
        # Seed 7 was borderline: a chair where the field is queried in bf16 (CPUs with
        # AVX512-BF16 or AMX), a "cabinet" to the classifier in float32. Seed 1 is a chair in
        # both, as are 9 of seeds 1-10 in float32.
        args += ["--seed", "1"]
    clean_env.chdir(tmp_path)
    code, err = run_cli(*args)
    assert code == 0, err
    out = tmp_path / args[args.index("-o") + 1]
    mesh = trimesh.load(out, force="mesh")
    assert getattr(mesh.visual, "material", None) is not None, "the asset has no texture"
    assert classifier.classify_mesh(mesh) == "chair"
    prompt = args[1]
    assert named_colour(prompt), f"the README's prompt {prompt!r} names no colour"
    assert named_colour(prompt) in shown_colours(mesh), (prompt, shown_colours(mesh))


def test_the_readme_python_example_runs(
    tmp_path, monkeypatch: pytest.MonkeyPatch, readme_python
) -> None:
    code = readme_python("### Generate: the pipeline and `gen3d generate`")
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace("texture_size=1024", "texture_size=256"), "README.md", "exec"), {})
    assert (tmp_path / "chair.glb").stat().st_size > 0


def test_it_says_which_prompts_it_does_not_know(default_pipeline) -> None:
    """Held-out captions of every category count as familiar; things the model never saw get
    a warning (recorded in the asset's metadata too)."""
    known = default_pipeline.known_prompts
    assert known is not None and len(known.captions) == 2048
    held_out = [generate_shape(c, UNSEEN_SEED + 1).caption for c in list_categories()]
    prompts = ["a red wooden chair", "a sofa", *held_out]
    text = default_pipeline.text_encoder
    assert all(found.familiar for found in known.familiarity(text.encode(prompts).pooled))
    strangers = ["a horse", "a cat", "a dragon", "a guitar", "a bicycle", "a human head"]
    assert not any(found.familiar for found in known.familiarity(text.encode(strangers).pooled))


def test_the_readme_mesh_painting_example_paints_an_unseen_chair(
    tmp_path, monkeypatch: pytest.MonkeyPatch, readme_python
) -> None:
    """The README's example, as written: the painted mesh keeps every face and comes out in
    the prompt's colour; a low-strength variation stays close to the given chair."""
    from gen3d.eval.colour import shown_colours
    from gen3d.eval.metrics import compare_meshes

    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(readme_python("### Start from a mesh"), "README.md", "exec"), scope)
    painted, variation, mesh = scope["painted"], scope["variation"], scope["mesh"]
    assert "red" in shown_colours(painted.mesh)
    assert "red" not in shown_colours(mesh)  # chair 1006 is blue
    assert (tmp_path / "red-chair.glb").is_file()
    kept = compare_meshes(variation.mesh, mesh, count=20_000, taus=(0.05,), iou=False)
    assert kept.f_score[0.05] >= 0.8, kept.f_score
