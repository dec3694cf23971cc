"""`gen3d generate` as a user meets it: files, progress summary, clear one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image


def test_prompt_and_image_to_files(clean_env, tmp_path, run_cli, tiny_pipeline_path) -> None:
    out, preview = tmp_path / "ball.glb", tmp_path / "ball.png"
    code, err = run_cli(
        "generate", "a red ball", "-o", str(out), "--model", str(tiny_pipeline_path),
        "--seed", "4", "--preview", str(preview),
    )  # fmt: skip
    assert code == 0, err
    assert "wrote" in err and "seed 4" in err and "sample" in err and "faces" in err
    assert len(trimesh.load(out, force="mesh").faces) > 100
    assert Image.open(preview).size == (1024, 256)

    photo = tmp_path / "photo.png"
    canvas = np.full((64, 64, 3), 255, dtype=np.uint8)
    canvas[20:44, 16:48] = (30, 120, 200)
    Image.fromarray(canvas).save(photo)
    clean_env.setenv("GEN3D_MODEL_PATH", str(tiny_pipeline_path))
    code, err = run_cli("generate", "--image", str(photo), "-o", str(tmp_path / "obj.obj"))
    assert code == 0, err
    assert "straighten" in err  # the photo is checked for a camera held askew first
    # The texture is named after the asset, so that assets in one folder keep their own.
    assert {p.name for p in tmp_path.glob("obj.*")} == {"obj.obj", "obj.mtl", "obj.png"}
    as_it_is = ["--image", str(photo), "--no-straighten", "-o", str(tmp_path / "level.glb")]
    code, err = run_cli("generate", *as_it_is)
    assert code == 0 and "straighten" not in err, err

    # Refining against the photo says the view it used: given, or estimated.
    refine = ["generate", "--image", str(photo), "--refine-steps", "2", "--texture-size", "64"]
    code, err = run_cli(*refine, "--view", "210,15", "-o", str(tmp_path / "given.glb"))
    assert code == 0 and "refined from azimuth 210, elevation 15 (given)" in err, err
    code, err = run_cli(*refine, "-o", str(tmp_path / "auto.glb"))
    assert code == 0 and "(estimated: silhouette IoU" in err, err
    code, err = run_cli(*refine, "--no-symmetry", "-o", str(tmp_path / "kept.glb"))
    assert code == 0 and "carried" not in err and "mirrored" not in err, err
    for view, message in (("30,20", "it needs an image and refine_steps"), ("up", "not one of")):
        flags = ["--view", view, "-o", str(tmp_path / "x.glb")]
        code, err = run_cli(*(refine if view == "up" else refine[:3]), *flags)
        assert code != 0 and message in err and "Traceback" not in err, err
        assert not (tmp_path / "x.glb").exists()


def test_variations_are_one_batch_of_numbered_files(
    clean_env, tmp_path, run_cli, tiny_pipeline_path
) -> None:
    out = tmp_path / "mug.glb"
    code, err = run_cli(
        "generate", "a mug", "-o", str(out), "--model", str(tiny_pipeline_path),
        "--seed", "9", "--variations", "3", "--texture-size", "0",
        "--preview", str(tmp_path / "mug.png"),
    )  # fmt: skip
    assert code == 0, err
    assert not out.exists()
    for index, seed in ((1, 9), (2, 10), (3, 11)):
        assert (tmp_path / f"mug-{index}.glb").is_file() and f"seed {seed};" in err
        assert Image.open(tmp_path / f"mug-{index}.png").size == (1024, 256)
    code, err = run_cli(
        "generate", "a mug", "-o", str(out), "--model", str(tiny_pipeline_path),
        "--variations", "17",
    )  # fmt: skip
    assert code != 0 and "less than or equal to 16" in err and "Traceback" not in err


def test_without_weights_it_says_how_to_point_at_a_model(clean_env, tmp_path, run_cli) -> None:
    # An install whose packaged default weights are missing (a trimmed wheel, a broken copy).
    clean_env.setattr("gen3d.pipeline.DEFAULT_MODEL_DIR", tmp_path / "no-default-model")
    code, err = run_cli("generate", "a chair", "-o", str(tmp_path / "chair.glb"))
    assert code != 0
    assert "no default weights are installed" in err and "--model" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["  ", "-o", "{tmp}/x.glb"], "prompt is empty"),
        (["a chair", "--image", "{tmp}/p.png", "-o", "{tmp}/x.glb"], "exactly one"),
        (["--image", "{tmp}/missing.png", "-o", "{tmp}/x.glb"], "no such image file"),
        (["--image", "{tmp}", "-o", "{tmp}/x.glb"], "is a folder; for an asset per image"),
        (["a chair", "-o", "{tmp}/x.fbx"], "unsupported format"),
        (["a chair", "-o", "{tmp}/nowhere/x.glb"], "does not exist"),
        (["a chair", "-o", "{tmp}/x.glb", "--steps", "0"], "steps=0 is out of range"),
        (["a chair", "-o", "{tmp}/x.glb", "--texture-size", "9"], "texture_size=9"),
    ],
)
def test_bad_requests_are_one_clear_line(
    clean_env, tmp_path, run_cli, tiny_pipeline_path, args, message
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, err = run_cli("generate", *args, "--model", str(tiny_pipeline_path))
    assert code != 0
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.glb").exists()


def test_the_refinement_line_names_the_light_highlights_and_shadows_kept_out() -> None:
    from gen3d.cli.generate import describe_view

    given = {"source": "given", "azimuth": 210.0, "elevation": 15.0}
    assert describe_view(given, 0.01) == "refined from azimuth 210, elevation 15 (given)"
    assert describe_view(given, 0.42) == (
        "refined from azimuth 210, elevation 15 (given); "
        "the photo's shading (contrast 0.42) kept out of the texture"
    )
    assert describe_view(given, 0.42, 1) == (
        "refined from azimuth 210, elevation 15 (given); "
        "the photo's shading (contrast 0.42) and 1 highlight kept out of the texture"
    )
    turned = given | {"roll": -6.2}
    assert describe_view(turned) == (
        "refined from azimuth 210, elevation 15, the picture turned -6 (given)"
    )
    assert describe_view(given, 0.42, 1, 0.35) == (
        "refined from azimuth 210, elevation 15 (given); the photo's shading (contrast 0.42), "
        "1 highlight and cast shadows (35% of the light) kept out of the texture"
    )


def test_the_refinement_line_says_when_colours_were_carried_round_a_symmetric_shape() -> None:
    from gen3d.cli.generate import describe_view
    from render.symmetry import TURNS

    given = {"source": "given", "azimuth": 210.0, "elevation": 15.0}
    round_shape = {"turns": list(TURNS), "round": True, "mirror": None, "carried": 0.41}
    assert describe_view(given, symmetry=round_shape) == (
        "refined from azimuth 210, elevation 15 (given); "
        "its colours carried round the round shape (41% of the texture)"
    )
    square = {"turns": [90.0, 180.0, 270.0], "round": False, "mirror": None, "carried": 0.3}
    assert describe_view(given, symmetry=square).endswith(
        "carried round the shape (symmetric under turns of 90 degrees, 30% of the texture)"
    )
    bilateral = {"turns": [], "round": False, "mirror": 90.0, "carried": 0.23}
    assert describe_view(given, symmetry=bilateral).endswith(
        "; its colours mirrored onto the side the photo does not show (23% of the texture; "
        "--no-symmetry to keep the model's)"
    )
    # A shape that is not symmetric says nothing of it.
    nothing = {"turns": [], "round": False, "mirror": None, "carried": 0.0}
    assert describe_view(given, symmetry=nothing) == (
        "refined from azimuth 210, elevation 15 (given)"
    )


def test_the_shared_option_help_quotes_the_ranges_the_pipeline_checks() -> None:
    from gen3d.cli.options import GENERATION_HELP, given_options
    from gen3d.pipeline import OPTION_RANGES

    assert set(GENERATION_HELP) == set(OPTION_RANGES)
    for name, allowed in OPTION_RANGES.items():
        if name in ("face_count", "texture_size"):  # their help says what 0 means instead
            continue
        assert f"{allowed.low:g}-{allowed.high:g}" in GENERATION_HELP[name], name
    # Unset options (None) and the command's other parameters are left out.
    assert given_options({"steps": None, "guidance": 3.0, "seed": 5}) == {"guidance": 3.0}
