"""`gen3d batch`: prompt files, DiT batching, manifest, resume, failures, offline gallery."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gen3d.batch import BatchError, Library, batches, read_items, run_library


def test_prompt_files_of_every_kind(tmp_path: Path) -> None:
    txt = tmp_path / "p.txt"
    txt.write_text("# props\na red chair\n\n  a blue mug  \n")
    items = read_items(txt)
    assert [i.prompt for i in items] == ["a red chair", "a blue mug"]
    assert items[0].id == "00002-a-red-chair" and read_items(txt)[0].seed == items[0].seed

    csv = tmp_path / "p.csv"
    csv.write_text("prompt,seed,steps,guidance\na lamp,7,10,3.5\na vase,,,\n,1,,\n")
    lamp, vase, empty = read_items(csv)
    assert (lamp.seed, lamp.options) == (7, {"steps": 10, "guidance": 3.5})
    assert vase.options == {} and vase.status == "pending"
    assert empty.status == "failed" and "line 4: the prompt is empty" in empty.error

    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "a sword", "texture_size": 0}\n{oops\n{"prompt": "x", "lod": 2}\n')
    sword, broken, unknown = read_items(jsonl)
    assert sword.options == {"texture_size": 0}
    assert broken.status == "failed" and "line 2: not JSON" in broken.error
    assert unknown.status == "failed" and "unknown keys ['lod']" in unknown.error
    jsonl.write_text('{"prompt": "a sword", "sede": 3, "face_cont": 900, "lod": 2}\n')
    (typos,) = read_items(jsonl)
    assert "(did you mean 'face_count' for 'face_cont', 'seed' for 'sede'?)" in typos.error


def test_csv_rows_are_named_by_the_line_they_start_on(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text('prompt,seed\n"a two\nline lamp",5\n\na chair,6,7\na mug,8\n')
    lamp, chair, mug = read_items(csv)
    assert (lamp.prompt, lamp.seed, lamp.id) == ("a two\nline lamp", 5, "00002-a-two-line-lamp")
    assert chair.status == "failed" and "line 5: 1 more value(s) than the header" in chair.error
    assert (mug.prompt, mug.id) == ("a mug", "00006-a-mug")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.csv", "title,seed\nx,1\n", "needs a 'prompt' or an 'image' column"),
        ("p.csv", "prompt,colour\nx,red\n", "unknown columns"),
        (
            "p.csv",
            "prompt,texure_size\nx,512\n",
            r"\['texure_size'\] \(did you mean 'texture_size'\?\)",
        ),
        ("p.txt", "# nothing\n\n", "no prompts found"),
        # Not the rest of the file read as one prompt, as before strict parsing.
        ("p.csv", 'prompt,seed\n"a chair,5\na lamp,6\n', "line 2: unexpected end of data"),
        ("p.csv", '"prompt,seed\na chair,5\n', r"line 1 \(the header\): unexpected end"),
        ("p.md", "a chair\n", "prompt files are"),
    ],
)
def test_bad_prompt_files_are_refused(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BatchError, match=message):
        read_items(path)


def test_same_options_share_dit_batches(tmp_path: Path, tiny_pipeline) -> None:
    prompts = tmp_path / "p.jsonl"
    lines = [{"prompt": f"thing {i}", "texture_size": 0} for i in range(5)]
    lines.append({"prompt": "other", "texture_size": 0, "steps": 2})
    prompts.write_text("\n".join(json.dumps(line) for line in lines))
    items = read_items(prompts)
    assert [len(chunk) for chunk in batches(items, 4)] == [4, 1, 1]

    calls: list[int] = []

    def recording_pipe(prompt, seed, **options):
        calls.append(len(prompt))
        return tiny_pipeline(prompt=prompt, seed=seed, **options)

    library = Library(tmp_path / "lib")
    library.open(items, str(prompts))
    run_library(recording_pipe, library, batch_size=4, thumbnails=False)
    assert sorted(calls) == [1, 1, 4]
    assert library.counts() == {"succeeded": 6}


def test_library_manifest_gallery_resume_and_failures(
    clean_env, tmp_path: Path, run_cli, tiny_pipeline_path
) -> None:
    prompts = tmp_path / "props.jsonl"
    prompts.write_text(
        '{"prompt": "a red chair"}\n{"prompt": "a blue mug", "seed": 3}\n'
        '{"prompt": "a broken one", "steps": 0}\n'
    )
    library = tmp_path / "library"
    args = [str(prompts), "--out", str(library), "--model", str(tiny_pipeline_path)]
    code, err = run_cli("batch", *args)
    assert code == 1  # one item failed: reported, not fatal to the others
    assert "2 succeeded" in err and "1 failed" in err
    manifest = json.loads((library / "manifest.json").read_text())
    by_prompt = {item["prompt"]: item for item in manifest["items"]}
    assert by_prompt["a blue mug"]["seed"] == 3
    assert "steps=0 is out of range" in by_prompt["a broken one"]["error"]
    chair = by_prompt["a red chair"]
    assert chair["status"] == "succeeded" and set(chair["timings"]) >= {"sample", "mesh"}
    for relative in [*chair["files"], chair["thumbnail"]]:
        assert (library / relative).is_file()

    index = (library / "index.html").read_text()
    assert "a red chair" in index and "steps=0 is out of range" in index
    assert "https://" not in index and "http://" not in index  # offline
    page = (library / "view" / f"{chair['id']}.html").read_text()
    assert "data:model/gltf-binary;base64," in page and "../viewer/model-viewer-umd.min.js" in page
    assert (library / "viewer" / "model-viewer-umd.min.js").stat().st_size > 500_000

    # Re-run: finished items are kept as they are, the failed one is tried again.
    glb = library / chair["files"][0]
    before = glb.stat().st_mtime_ns
    code, err = run_cli("batch", *args)
    assert "2 from earlier runs" in err and glb.stat().st_mtime_ns == before

    # An interrupted item (status running, file gone) is redone.
    manifest = json.loads((library / "manifest.json").read_text())
    for item in manifest["items"]:
        if item["prompt"] == "a red chair":
            item["status"] = "running"
    (library / "manifest.json").write_text(json.dumps(manifest))
    glb.unlink()
    code, err = run_cli("batch", *args)
    assert "1 from earlier runs" in err and glb.is_file()


def _photo(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (96, 128)) -> Path:
    """A product shot: a coloured block on a white backdrop."""
    canvas = np.full((*size, 3), 255, dtype=np.uint8)
    canvas[size[0] // 4 : -size[0] // 4, size[1] // 4 : -size[1] // 4] = colour
    Image.fromarray(canvas).save(path)
    return path


def test_image_items_from_a_folder_and_from_files(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    _photo(photos / "b-mug.jpg", (20, 40, 200))
    _photo(photos / "a-Red Chair.png", (200, 30, 30))
    (photos / "notes.txt").write_text("not an image")
    (photos / ".hidden.png").write_bytes(b"editor junk")
    chair, mug = read_items(photos, {"refine_steps": 20, "texture_size": 256})
    assert chair.id == "00001-a-red-chair" and chair.image == str(photos / "a-Red Chair.png")
    assert chair.prompt == "" and chair.title == "a-Red Chair.png"
    assert chair.options == {"refine_steps": 20, "texture_size": 256}
    assert len(chair.image_sha256) == 64 and chair.image_sha256 != mug.image_sha256
    assert chair.seed == read_items(photos)[0].seed  # stable across runs

    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text(
        '{"image": "photos/b-mug.jpg", "texture_size": 64}\n'
        '{"prompt": "a lamp"}\n'
        '{"prompt": "a vase", "image": "photos/b-mug.jpg"}\n'
        '{"image": "photos/gone.png"}\n'
        '{"image": "photos/notes.txt"}\n'
        '{"prompt": "a cup", "refine_steps": 5}\n'
    )
    mug2, lamp, both, gone, text, cup = read_items(jsonl, {"refine_steps": 20})
    assert mug2.options == {"refine_steps": 20, "texture_size": 64}  # its own value wins
    assert mug2.image_sha256 == mug.image_sha256
    assert lamp.options == {} and lamp.image is None  # refine_steps is for images only
    assert "line 3: give a prompt or an image, not both" in both.error
    assert gone.status == "failed" and "image 'photos/gone.png' not found" in gone.error
    assert text.status == "failed" and "is not .png" in text.error
    assert cup.status == "failed" and "refine_steps needs an image" in cup.error
    assert [len(chunk) for chunk in batches([mug2, lamp], 4)] == [1, 1]  # kinds apart

    csv = tmp_path / "images.csv"
    csv.write_text("image,seed\nphotos/b-mug.jpg,5\n")
    assert read_items(csv)[0].seed == 5

    # The camera each photo was taken from, for refinement (checked and kept as text).
    views = tmp_path / "views.csv"
    views.write_text(
        "image,refine_steps,view\nphotos/b-mug.jpg,20, 210 , 15\n".replace(
            " 210 , 15", '" 210 , 15"'
        )
        + "photos/b-mug.jpg,20,Reference\n"
        "photos/b-mug.jpg,0,auto\n"
        "photos/b-mug.jpg,20,30;20\n"
    )
    given, reference, unrefined, bad = read_items(views)
    assert given.options == {"refine_steps": 20, "view": "210,15"}
    assert reference.options["view"] == "reference"
    assert "view is the camera the image was taken from" in unrefined.error
    assert "view '30;20' is not one of auto, reference" in bad.error
    assert [len(chunk) for chunk in batches([given, reference], 4)] == [1, 1]

    # Whether its refined colours are carried round a symmetric shape (default true).
    carried = tmp_path / "symmetry.csv"
    carried.write_text(
        "prompt,image,symmetry\n,photos/b-mug.jpg,false\n,photos/b-mug.jpg,\n"
        ",photos/b-mug.jpg,maybe\na mug,,false\n"
    )
    kept, default, unclear, prompt_row = read_items(carried)
    assert kept.options == {"symmetry": False} and default.options == {}
    assert "symmetry must be true or false, not 'maybe'" in unclear.error
    assert "symmetry is how an image's refined colours" in prompt_row.error

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BatchError, match="no images in the folder"):
        read_items(empty)
    with pytest.raises(BatchError, match=r"steps=0 is out of range"):
        read_items(photos, {"steps": 0})


def test_an_image_folder_becomes_a_library(
    clean_env, tmp_path: Path, run_cli, tiny_pipeline_path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    _photo(photos / "crate.png", (150, 100, 40))
    _photo(photos / "mug.webp", (20, 40, 200))
    Image.new("RGB", (64, 64), "white").save(photos / "blank.heic")  # shows no object
    library = tmp_path / "scans"
    args = [str(photos), "--out", str(library), "--model", str(tiny_pipeline_path)]
    code, err = run_cli("batch", *args, "--texture-size", "64", "--refine-steps", "2")
    assert code == 1 and "2 succeeded" in err and "1 failed" in err, err
    manifest = json.loads((library / "manifest.json").read_text())
    by_name = {Path(item["image"]).name: item for item in manifest["items"]}
    assert "no object" in by_name["blank.heic"]["error"]  # an iPhone's format, read
    crate = by_name["crate.png"]
    assert crate["status"] == "succeeded" and "refine" in crate["timings"]
    assert crate["options"] == {"texture_size": 64, "refine_steps": 2}
    for relative in [*crate["files"], crate["thumbnail"], crate["input_thumbnail"]]:
        assert (library / relative).is_file()
    index = (library / "index.html").read_text()
    assert "crate.png" in index and crate["input_thumbnail"] in index

    # A re-run keeps finished items; a changed image is made again.
    code, err = run_cli("batch", *args, "--texture-size", "64", "--refine-steps", "2")
    assert "2 from earlier runs" in err
    _photo(photos / "mug.webp", (30, 160, 40))
    code, err = run_cli("batch", *args, "--texture-size", "64", "--refine-steps", "2")
    assert "1 from earlier runs" in err and "2 succeeded" in err


def test_rows_with_a_mesh_paint_it_or_start_from_it(
    clean_env, tmp_path: Path, run_cli, tiny_pipeline_path
) -> None:
    import trimesh

    meshes = tmp_path / "meshes"
    meshes.mkdir()
    box = trimesh.creation.box(extents=(4.0, 2.0, 2.0))
    box.apply_translation([10.0, -3.0, 5.0])
    box.export(meshes / "box.ply")
    trimesh.creation.icosphere(subdivisions=2).export(meshes / "ball.obj")
    rows = tmp_path / "paint.csv"
    rows.write_text(
        "prompt,mesh,keep_geometry,strength,up\n"
        "a red box,meshes/box.ply,true,,\n"
        "a blue ball,meshes/ball.obj,,0.4,\n"
        "a green box,meshes/box.ply,yes,0.8,Z\n"
        "a lamp,,true,,\n"
        "a vase,meshes/gone.glb,,,\n"
        "a cup,meshes/box.ply,maybe,,\n"
        "a mug,meshes/box.ply,,2,\n"
        "a jar,meshes/box.ply,,,sideways\n"
    )
    red, ball, green, lamp, gone, cup, mug, jar = read_items(rows)
    assert red.mesh == str(meshes / "box.ply") and len(red.mesh_sha256) == 64
    assert red.options == {"keep_geometry": True}
    assert ball.options == {"strength": 0.4} and ball.mesh_sha256 != red.mesh_sha256
    assert green.options == {"keep_geometry": True, "strength": 0.8, "up": "z"}
    assert "up must be y or z" in jar.error
    jsonl = tmp_path / "paint.jsonl"
    jsonl.write_text('{"prompt": "a box", "mesh": "meshes/box.ply", "keep_uvs": false}\n')
    assert read_items(jsonl)[0].options == {"keep_uvs": False}
    assert "keep_geometry goes with a mesh" in lamp.error
    assert "mesh 'meshes/gone.glb' not found" in gone.error
    assert "keep_geometry must be true or false" in cup.error
    assert "strength must be in 0..1" in mug.error
    # One mesh per DiT batch: the two boxes with different options, and the ball, apart.
    assert sorted(len(chunk) for chunk in batches([red, ball, green], 4)) == [1, 1, 1]

    library = tmp_path / "painted"
    args = [str(rows), "--out", str(library), "--model", str(tiny_pipeline_path)]
    code, err = run_cli("batch", *args, "--texture-size", "0")
    assert code == 1 and "3 succeeded" in err and "5 failed" in err, err
    manifest = json.loads((library / "manifest.json").read_text())
    painted = next(item for item in manifest["items"] if item["prompt"] == "a red box")
    mesh = trimesh.load(library / painted["files"][0], force="mesh")
    np.testing.assert_allclose(mesh.bounds, box.bounds, atol=1e-5)  # the box, painted
    index = (library / "index.html").read_text()
    assert "painted box.ply" in index and "from ball.obj" in index

    # A re-run keeps finished items; a changed mesh is made again.
    trimesh.creation.icosphere(subdivisions=3).export(meshes / "ball.obj")
    code, err = run_cli("batch", *args, "--texture-size", "0")
    assert "3 succeeded (2 from earlier runs)" in err, err


def test_a_usdz_library_pages_show_the_thumbnail_and_open_ar(
    clean_env, tmp_path: Path, run_cli, tiny_pipeline_path
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("a green vase\n")
    library = tmp_path / "ar"
    code, err = run_cli(
        "batch", str(prompts), "--out", str(library), "--model", str(tiny_pipeline_path),
        "--format", "usdz", "--texture-size", "0",
    )  # fmt: skip
    assert code == 0, err
    (item,) = json.loads((library / "manifest.json").read_text())["items"]
    assert item["files"][0].endswith(".usdz")
    page = (library / "view" / f"{item['id']}.html").read_text()
    assert "<model-viewer" not in page  # it draws glTF only
    assert f'<a rel="ar" href="../{item["files"][0]}"><img' in page
    assert f'src="../{item["thumbnail"]}"' in page
