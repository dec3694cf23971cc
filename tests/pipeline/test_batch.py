"""`gen3d batch`: prompt files, DiT batching, manifest, resume, failures, offline gallery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.csv", "title,seed\nx,1\n", "needs a 'prompt' column"),
        ("p.csv", "prompt,colour\nx,red\n", "unknown columns"),
        ("p.txt", "# nothing\n\n", "no prompts found"),
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
