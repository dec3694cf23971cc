"""Generation from a user's mesh: painting it in place (``keep_geometry``, ``gen3d texture``)
and variations of it (``shape=``, ``gen3d generate --from``), on the tiny pipeline, whose
VAE decodes every latent to a sphere of radius 0.5 coloured by position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from gen3d.data.meshes import MeshError
from gen3d.pipeline import Pipeline, PipelineError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "meshes"


def user_box() -> trimesh.Trimesh:
    """A box far from the origin, in its own units (as a user's file would be)."""
    box = trimesh.creation.box(extents=(4.0, 2.0, 2.0))
    box.apply_translation([10.0, -3.0, 5.0])
    return box


def test_painting_keeps_every_vertex_and_reads_colour_on_the_field_surface(
    tiny_pipeline: Pipeline,
) -> None:
    box = user_box()
    asset = tiny_pipeline(
        "a box", shape=box, strength=0.5, keep_geometry=True, texture_size=0, seed=1
    )
    np.testing.assert_allclose(asset.mesh.vertices, box.vertices, atol=1e-9)
    np.testing.assert_array_equal(asset.mesh.faces, box.faces)
    assert asset.metadata["keep_geometry"] is True and asset.metadata["strength"] == 0.5
    # The box's corners lie far outside the decoded sphere; their colour is the sphere's
    # at the closest point of its surface (0.5 * direction, coloured xyz * 0.5 + 0.5),
    # not the field's untrained colour out at the corners.
    model_frame = (box.vertices - box.bounds.mean(axis=0)) * (0.9 / 2.0)
    on_sphere = 0.5 * model_frame / np.linalg.norm(model_frame, axis=1, keepdims=True)
    expected = on_sphere * 0.5 + 0.5
    rgb = asset.mesh.visual.vertex_colors[:, :3] / 255.0
    assert np.abs(rgb - expected).max() < 0.1
    assert np.abs(rgb - (model_frame * 0.5 + 0.5).clip(0, 1)).max() > 0.2  # not read in place


def test_painted_texture_goes_back_to_the_users_units(
    tiny_pipeline: Pipeline, tmp_path: Path
) -> None:
    box = user_box()
    path = tmp_path / "box.obj"
    box.export(path)
    asset = tiny_pipeline("a box", shape=path, keep_geometry=True, seed=1)
    assert asset.texture is not None and asset.texture.size == (64, 64)
    assert asset.metadata["shape"] == "box.obj"
    assert asset.metadata["strength"] == 0.9  # the default for painting
    (glb,) = asset.save(tmp_path / "painted.glb")
    painted = trimesh.load(glb, force="mesh")
    np.testing.assert_allclose(painted.bounds, box.bounds, atol=1e-5)
    assert len(painted.faces) == len(box.faces)


def test_a_variation_samples_only_the_last_steps(tiny_pipeline: Pipeline, tmp_path) -> None:
    seen = []
    asset = tiny_pipeline(
        "a box",
        shape=user_box(),
        strength=0.5,
        seed=2,
        steps=8,
        texture_size=0,
        callback=lambda stage, fraction, info: seen.append((stage, info.get("steps"))),
    )
    assert ("sample", 4) in seen and ("sample", 8) not in seen
    radius = np.linalg.norm(asset.mesh.vertices, axis=1)
    assert abs(np.median(radius) - 0.5) < 0.05  # a new mesh from the field, not the box
    # Strength 0 samples nothing: the mesh's own latent, decoded.
    kept = tiny_pipeline("a box", shape=user_box(), strength=0.0, seed=2, texture_size=0)
    assert kept.timings["sample"] < 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"strength": 0.5}, PipelineError, "need a starting shape"),
        ({"keep_geometry": True}, PipelineError, "need a starting shape"),
        ({"shape": "BOX", "strength": 1.5}, PipelineError, "0 keeps the shape, 1 ignores it"),
        ({"shape": "BOX", "strength": "high"}, PipelineError, "strength must be a number"),
        ({"shape": FIXTURES / "malformed" / "points_ascii.ply"}, MeshError, "point cloud"),
        ({"shape": FIXTURES / "nowhere.obj"}, MeshError, "no such file"),
        ({"shape": FIXTURES / "real" / "bunny.txt"}, MeshError, "unsupported format"),
    ],
)
def test_bad_shapes_and_strengths_fail_before_any_work(
    tiny_pipeline: Pipeline, kwargs, error, message
) -> None:
    if kwargs.get("shape") == "BOX":
        kwargs = {**kwargs, "shape": user_box()}
    with pytest.raises(error, match=message):
        tiny_pipeline(
            "a box",
            callback=lambda *_: pytest.fail("work started before the inputs were checked"),
            **kwargs,
        )


def test_texture_and_generate_from_on_the_command_line(
    clean_env, tmp_path, run_cli, tiny_pipeline_path
) -> None:
    box = user_box()
    box.export(tmp_path / "box.ply")
    model = ["--model", str(tiny_pipeline_path)]
    code, err = run_cli(
        "texture",
        str(tmp_path / "box.ply"),
        "a red box",
        "-o",
        str(tmp_path / "red.glb"),
        "--seed",
        "3",
        *model,
    )
    assert code == 0, err
    painted = trimesh.load(tmp_path / "red.glb", force="mesh")
    np.testing.assert_allclose(painted.bounds, box.bounds, atol=1e-5)
    _uv_box().export(tmp_path / "uv-box.glb")
    for flag, vertices in (([], 8), (["--new-uvs"], None)):
        out = tmp_path / "uv-painted.glb"
        code, err = run_cli(
            "texture", str(tmp_path / "uv-box.glb"), "a red box", "-o", str(out), *flag, *model
        )
        assert code == 0, err
        count = len(trimesh.load(out, force="mesh").vertices)
        assert count == vertices if vertices else count > 8  # its own UVs, or new seams
    code, err = run_cli(
        "generate",
        "a box",
        "--from",
        str(tmp_path / "box.ply"),
        "--strength",
        "0.4",
        "-o",
        str(tmp_path / "var.glb"),
        *model,
    )
    assert code == 0, err
    assert (tmp_path / "var.glb").is_file()

    for args, message in (
        (
            ["generate", "a box", "--strength", "0.4", "-o", str(tmp_path / "x.glb")],
            "--strength and --up go with --from",
        ),
        (
            ["texture", str(tmp_path / "missing.obj"), "a box", "-o", str(tmp_path / "x.glb")],
            "no such mesh file",
        ),
        (
            ["texture", str(tmp_path), "a box", "-o", str(tmp_path / "x.glb")],
            "is a folder; to paint every mesh in it",
        ),
        (
            [
                "texture",
                str(FIXTURES / "malformed" / "soup.stl"),
                "a box",
                "-o",
                str(tmp_path / "x.glb"),
            ],
            "triangle soup",
        ),
    ):
        code, err = run_cli(*args, *model)
        assert code != 0 and message in err and "Traceback" not in err, err
        assert not (tmp_path / "x.glb").exists()


def _uv_box(scale: float = 1.0) -> trimesh.Trimesh:
    """The user's box with UVs of its own (a projection of x and y into the unit square)."""
    box = user_box()
    low, high = box.bounds
    uv = (box.vertices[:, :2] - low[:2]) / (high[:2] - low[:2]) * scale
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=[0.8, 0.8, 0.8, 1.0])
    box.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return box


def test_painting_bakes_into_the_meshs_own_uvs(tiny_pipeline: Pipeline, tmp_path) -> None:
    box = _uv_box()
    box.export(tmp_path / "box.glb")  # one part, UVs, an untextured material
    for source in (box, tmp_path / "box.glb"):
        asset = tiny_pipeline("a box", shape=source, keep_geometry=True, seed=1)
        assert asset.metadata["kept_uvs"] is True
        assert len(asset.mesh.vertices) == len(box.vertices)  # no seams split: the same mesh
        np.testing.assert_allclose(asset.mesh.vertices, box.vertices, atol=1e-5)
        np.testing.assert_allclose(asset.mesh.visual.uv, box.visual.uv, atol=1e-6)

    fresh = tiny_pipeline("a box", shape=box, keep_geometry=True, keep_uvs=False, seed=1)
    assert fresh.metadata["kept_uvs"] is False and len(fresh.mesh.vertices) > len(box.vertices)
    tiled = tiny_pipeline("a box", shape=_uv_box(scale=3.0), keep_geometry=True, seed=1)
    assert tiled.metadata["kept_uvs"] is False  # a tiled layout cannot take one texture


def test_parts_sharing_one_uv_atlas_are_painted_into_it(tiny_pipeline: Pipeline, tmp_path) -> None:
    def two_parts(right_starts_at: float) -> trimesh.Scene:
        left, right = _uv_box(), _uv_box()
        right.apply_translation([left.extents[0] * 1.5, 0.0, 0.0])
        left.visual.uv = left.visual.uv * [0.45, 1.0]
        right.visual.uv = right.visual.uv * [1.0 - right_starts_at, 1.0] + [right_starts_at, 0.0]
        scene = trimesh.Scene()
        scene.add_geometry(left, geom_name="left")
        scene.add_geometry(right, geom_name="right")
        return scene

    two_parts(0.55).export(tmp_path / "atlas.glb")  # one texture can serve both parts
    asset = tiny_pipeline("a box", shape=tmp_path / "atlas.glb", keep_geometry=True, seed=1)
    assert asset.metadata["kept_uvs"] is True
    assert len(asset.mesh.vertices) == 2 * len(user_box().vertices)  # no seams split
    left = asset.mesh.vertices[:, 0] < asset.mesh.vertices[:, 0].mean()
    assert asset.mesh.visual.uv[left, 0].max() <= 0.45 + 1e-6
    assert asset.mesh.visual.uv[~left, 0].min() >= 0.55 - 1e-6

    two_parts(0.0).export(tmp_path / "overlapping.glb")  # each part's UVs fill the square
    fresh = tiny_pipeline("a box", shape=tmp_path / "overlapping.glb", keep_geometry=True, seed=1)
    assert fresh.metadata["kept_uvs"] is False


def test_a_z_up_mesh_is_seen_upright_and_comes_back_in_its_own_axes(
    tiny_pipeline: Pipeline, tmp_path
) -> None:
    from gen3d.shape_input import load_shape

    tower = trimesh.creation.box(extents=(1.0, 1.0, 4.0))  # tall along Z: a Z-up tower
    tower.apply_translation([2.0, 3.0, 5.0])
    upright = load_shape(tower, up="z")
    extent = upright.asset.vertices.max(axis=0) - upright.asset.vertices.min(axis=0)
    assert extent.argmax() == 1  # the model sees it standing up (+Y)
    np.testing.assert_allclose(
        upright.to_own_frame(upright.to_model_frame(tower.vertices)), tower.vertices, atol=1e-9
    )
    asset = tiny_pipeline("a tower", shape=tower, up="z", keep_geometry=True, texture_size=0)
    np.testing.assert_allclose(asset.mesh.vertices, tower.vertices, atol=1e-9)
    assert asset.metadata["up"] == "z"
    # Its preview shows it standing, as the model saw it, though it is saved lying (Z-up).
    from PIL import Image

    preview = np.asarray(Image.open(asset.preview(tmp_path / "tower.png", views=2)).convert("L"))
    for view in np.split(preview, 2, axis=1):
        rows, columns = np.nonzero(view < 250)
        assert np.ptp(rows) > 1.5 * np.ptp(columns)
    with pytest.raises(PipelineError, match="up must be one of y, z"):
        tiny_pipeline("a tower", shape=tower, up="x")
    with pytest.raises(PipelineError, match="need a starting shape"):
        tiny_pipeline("a tower", up="z")


def test_a_mesh_can_be_painted_like_an_image(tiny_pipeline: Pipeline) -> None:
    from PIL import Image, ImageDraw

    photo = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(photo).rectangle((20, 30, 76, 70), fill=(200, 40, 40))
    box = user_box()
    asset = tiny_pipeline(image=photo, shape=box, keep_geometry=True, texture_size=0, seed=3)
    np.testing.assert_allclose(asset.mesh.vertices, box.vertices, atol=1e-9)
    assert asset.metadata["keep_geometry"] is True and "image" in asset.metadata


def test_painting_a_mesh_xatlas_cannot_unwrap_says_how_to_keep_its_faces(
    tiny_pipeline: Pipeline, tmp_path, xatlas_crashes
) -> None:
    box = user_box()
    box.export(tmp_path / "box.ply")
    with pytest.raises(PipelineError) as caught:
        tiny_pipeline("a box", shape=tmp_path / "box.ply", keep_geometry=True, seed=1)
    message = str(caught.value)
    assert message.startswith("cannot unwrap box.ply for a texture: xatlas crashed (SIGSEGV)")
    assert "vertex colours" in message and "decimating" not in message  # it keeps its faces


def test_a_mesh_painted_like_a_photo_of_it_is_refined_from_where_the_photo_was_taken(
    tiny_pipeline: Pipeline,
) -> None:
    import torch
    from PIL import Image

    from gen3d.pipeline import reference_cameras
    from gen3d.shape_input import load_shape
    from render import RenderMesh, render_mesh

    # A Z-up tower with an arm (no two views alike), red on one side and blue on the other.
    tower = trimesh.creation.box(extents=(1.0, 1.0, 4.0))
    arm = trimesh.creation.box(extents=(2.0, 0.6, 0.6))
    arm.apply_translation([1.2, 0.0, 1.0])
    mesh = trimesh.util.concatenate([tower, arm])
    mesh.apply_translation([2.0, 3.0, 5.0])
    red, blue = np.array([220, 30, 30, 255]), np.array([30, 30, 220, 255])
    sides = mesh.vertices[:, 1] > 3.0
    colours = np.where(sides[:, None], red, blue).astype(np.uint8)
    upright = load_shape(mesh, up="z")
    truth = RenderMesh(
        torch.tensor(upright.to_model_frame(mesh.vertices), dtype=torch.float32),
        torch.tensor(mesh.faces),
        vertex_colors=torch.tensor(colours[:, :3] / 255.0, dtype=torch.float32),
    )
    view = (200.0, 25.0)

    def seen_from_view(vertices: np.ndarray, visual_mesh: trimesh.Trimesh) -> torch.Tensor:
        drawable = RenderMesh.from_trimesh(visual_mesh)
        drawable.vertices = torch.tensor(vertices, dtype=torch.float32)
        cameras = reference_cameras(drawable.vertices, view, 96)
        return render_mesh(drawable, cameras, shading="albedo", antialias=False).color[0]

    cameras = reference_cameras(truth.vertices, view, 192)
    shot = render_mesh(truth, cameras, shading="albedo").color[0].clamp(0, 1)
    photo = Image.fromarray((shot.numpy() * 255 + 0.5).astype(np.uint8))
    expected = render_mesh(
        truth, reference_cameras(truth.vertices, view, 96), shading="albedo", antialias=False
    ).color[0]

    options = {"shape": mesh, "up": "z", "keep_geometry": True, "texture_size": 64, "seed": 3}
    plain = tiny_pipeline(image=photo, **options)
    refined = tiny_pipeline(image=photo, refine_steps=80, **options)
    np.testing.assert_allclose(refined.mesh.bounds, mesh.bounds, atol=1e-6)  # own axes
    assert len(refined.mesh.faces) == len(mesh.faces)
    found = refined.metadata["view"]
    assert found["source"] == "estimated"
    assert abs((found["azimuth"] - view[0] + 180) % 360 - 180) < 8
    assert abs(found["elevation"] - view[1]) < 8

    def error(asset) -> float:
        colour = seen_from_view(upright.to_model_frame(asset.mesh.vertices), asset.mesh)
        return float((colour - expected).abs().mean())

    assert error(refined) < 0.5 * error(plain), (error(plain), error(refined))
    # An evenly lit photo reads as nearly even: a box's faces, each of one normal and one
    # colour, leave the light fit some room (0.02-0.08 refined from views within a degree of
    # the photo's, 0.05 from the photo's own).
    assert refined.metadata["light_contrast"] < 0.1
    assert len(refined.metadata["colour_cast"]) == 3  # white-balanced to the photo first
    # The arm breaks every turn, but the tower is its own mirror image across the upright
    # plane through the arm, and the photo shows one half only: the other half is mirrored
    # from it (red; the photo could not tell it is blue).
    symmetry = refined.metadata["symmetry"]
    assert symmetry["turns"] == [] and not symmetry["round"]
    assert symmetry["mirror"] == pytest.approx(90.0, abs=1.0)
    assert 0.1 < symmetry["carried"] < 0.5
    # Told not to, it keeps the model's colours there.
    as_painted = tiny_pipeline(image=photo, refine_steps=80, symmetry=False, **options)
    assert as_painted.metadata["symmetry"]["carried"] == 0.0
    assert as_painted.metadata["symmetry"]["mirror"] is None


def test_a_mesh_painted_like_a_lit_photo_keeps_the_light_out_of_its_texture(
    tiny_pipeline: Pipeline,
) -> None:
    import torch
    from PIL import Image

    from gen3d.pipeline import reference_cameras
    from render import RenderMesh, render_mesh

    # A ball in four flat paints, photographed with a lamp above and to the left.
    ball = trimesh.creation.icosphere(subdivisions=4)
    paints = np.array([[200, 40, 40], [40, 160, 60], [50, 70, 200], [230, 210, 60]])
    quarter = (ball.vertices[:, 0] > 0).astype(int) + 2 * (ball.vertices[:, 1] > 0)
    colours = torch.tensor(paints[quarter] / 255.0, dtype=torch.float32)
    truth = RenderMesh(
        torch.tensor(ball.vertices, dtype=torch.float32),
        torch.tensor(ball.faces),
        vertex_colors=colours,
    )
    view = (30.0, 20.0)
    cameras = reference_cameras(truth.vertices, view, 192)
    normals = render_mesh(truth, cameras, shading="normals", antialias=False).color[0] * 2 - 1
    lamp = torch.nn.functional.normalize(torch.tensor([-1.0, 2.0, 1.0]), dim=0)
    shading = 0.3 + 0.7 * (normals @ lamp).clamp_min(0.0)
    albedo = render_mesh(truth, cameras, shading="albedo", antialias=False)
    shot = torch.where(albedo.mask[0, ..., None], albedo.color[0] * shading[..., None], 1.0)
    photo = Image.fromarray((shot.numpy() * 255 + 0.5).astype(np.uint8))

    options = {"shape": ball, "keep_geometry": True, "texture_size": 128, "seed": 3}
    refined = tiny_pipeline(image=photo, refine_steps=100, view=view, **options)
    assert refined.metadata["light_contrast"] > 0.4

    seen = reference_cameras(truth.vertices, view, 96)
    expected = render_mesh(truth, seen, shading="albedo", antialias=False)
    painted = render_mesh(RenderMesh.from_trimesh(refined.mesh), seen, shading="albedo")
    dark_side = expected.mask[0] & (shading[::2, ::2] < 0.5)  # the photo's shadows
    error = (painted.color[0] - expected.color[0]).abs().mean(-1)
    assert float(error[dark_side].mean()) < 0.08


def test_a_trusted_bake_tells_the_light_on_a_box_lit_face_by_face() -> None:
    """A trained model's bake guesses the colours (``PipelineConfig.trust_bake``): refining
    a box against a photo lit face by face then keeps the darker faces' light out of the
    texture, which the photo alone cannot (each face has one normal)."""
    import torch

    from gen3d.mesh.texture import texture_image, textured_mesh
    from gen3d.pipeline import REFINE_RESOLUTION, reference_cameras, refine_from_photo
    from render import RenderMesh, render_mesh, unwrap_uv
    from render.bake import bake_texture

    box = trimesh.creation.box(extents=(1.0, 0.7, 0.5))
    box.unmerge_vertices()  # a normal per face
    unwrapped = unwrap_uv(box.vertices, box.faces, texture_size=128)
    vertices = torch.from_numpy(unwrapped.vertices).float()
    uv = torch.from_numpy(unwrapped.uv).float()
    faces = torch.from_numpy(unwrapped.faces)
    green, orange = torch.tensor([0.2, 0.6, 0.3]), torch.tensor([0.9, 0.5, 0.2])
    truth, _ = bake_texture(
        vertices, faces, uv, lambda p: torch.where((p[:, 0] < 0)[:, None], green, orange), 128
    )
    view = (40.0, 30.0)
    seen = RenderMesh(vertices, faces, uv=uv, texture=truth)
    cameras = reference_cameras(vertices, view, REFINE_RESOLUTION)
    albedo = render_mesh(seen, cameras, shading="albedo", antialias=False)
    normals = render_mesh(seen, cameras, shading="normals", antialias=False).color[0] * 2 - 1
    lamp = torch.nn.functional.normalize(torch.tensor([-1.0, 2.0, 1.5]), dim=0)
    light = 0.3 + 0.7 * (normals @ lamp).clamp_min(0.0)
    photo = (albedo.color[0] * light[..., None], albedo.mask[0])

    # The bake: the colours a little off, as a model's are.
    baked = (truth * torch.tensor([0.85, 1.0, 1.1])).clamp(0.0, 1.0)
    mesh = textured_mesh(unwrapped.vertices, unwrapped.faces, unwrapped.uv, texture_image(baked))

    def psnr_after(trust_bake: bool) -> float:
        from render import psnr

        refined, _ = refine_from_photo(mesh, photo, view, 60, trust_bake=trust_bake)
        drawn = render_mesh(RenderMesh.from_trimesh(refined), cameras, shading="albedo")
        return psnr(drawn.color[0], albedo.color[0], albedo.mask[0])

    alone, trusted = psnr_after(False), psnr_after(True)
    assert trusted - alone >= 3.0, (alone, trusted)
