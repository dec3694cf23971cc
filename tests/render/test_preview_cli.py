"""`gen3d preview` as a user meets it: views, turntables, contact sheets, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

MESHES = Path(__file__).resolve().parents[1] / "fixtures" / "meshes"


def test_views_turntable_and_contact_sheet(clean_env, tmp_path, run_cli) -> None:
    bunny = str(MESHES / "real/bunny.ply")
    code, err = run_cli(
        "preview", bunny, "-o", str(tmp_path / "views.png"), "--views", "3", "--resolution", "48"
    )
    assert code == 0, err
    assert Image.open(tmp_path / "views.png").size == (144, 48)

    code, err = run_cli(
        "preview",
        bunny,
        "-o",
        str(tmp_path / "turn.gif"),
        "--turntable",
        "--frames",
        "4",
        "--resolution",
        "32",
    )
    assert code == 0, err
    assert Image.open(tmp_path / "turn.gif").n_frames == 4

    others = [str(MESHES / "real" / name) for name in ("cube.glb", "teapot.stl", "tube.obj")]
    code, err = run_cli(
        "preview",
        bunny,
        *others,
        "-o",
        str(tmp_path / "sheet.png"),
        "--resolution",
        "40",
        "--columns",
        "2",
    )
    assert code == 0, err
    assert Image.open(tmp_path / "sheet.png").size == (80, 2 * (40 + 22))


def test_a_folder_is_a_contact_sheet_of_every_mesh_in_it(clean_env, tmp_path, run_cli) -> None:
    library = tmp_path / "library"
    (library / "assets" / "more").mkdir(parents=True)
    shutil.copy(MESHES / "real/cube.glb", library / "assets")
    shutil.copy(MESHES / "real/teapot.stl", library / "assets" / "more")
    shutil.copy(MESHES / "real/tube.obj", library / "assets")
    (library / "manifest.json").write_text("{}")  # not a mesh: passed over
    code, err = run_cli(
        "preview", str(library), "-o", str(tmp_path / "sheet.png"), "--resolution", "40"
    )
    assert code == 0, err
    assert Image.open(tmp_path / "sheet.png").size == (3 * 40, 40 + 22)  # three tiles, one row

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no meshes here")
    code, err = run_cli("preview", str(tmp_path / "notes"), "-o", str(tmp_path / "none.png"))
    assert code != 0 and "holds no mesh files" in err and "Traceback" not in err
    assert not (tmp_path / "none.png").exists()


@pytest.mark.parametrize(
    ("mesh", "out", "extra", "message"),
    [
        ("malformed/empty.obj", "x.png", [], "no faces"),
        ("malformed/points_ascii.ply", "x.png", [], "no faces"),
        ("real/missing.glb", "x.png", [], "no such file"),
        ("real/cube.glb", "x.bmp", [], "write an image as"),
        ("real/cube.glb", "x.png", ["--turntable"], "write a turntable as"),
        ("real/cube.glb", "x.png", ["--shading", "toon"], "unknown shading"),
        ("real/cube.glb", "nowhere/x.png", [], "does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(clean_env, tmp_path, run_cli, mesh, out, extra, message):
    target = tmp_path / out
    code, err = run_cli("preview", str(MESHES / mesh), "-o", str(target), *extra)
    assert code != 0
    assert message in err and "Traceback" not in err
    assert not target.exists()
