"""`gen3d batch --server`: a library built by a running service, with the same manifest,
resumability and gallery as a local run."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from gen3d.batch import BatchItem
from gen3d.remote import ServiceClient, ServiceError, idempotency_key, request_body

pytestmark = pytest.mark.cost(50)  # seconds in the default run: scheduled early


def _manifest(library: Path) -> dict[str, dict]:
    data = json.loads((library / "manifest.json").read_text())
    return {item["prompt"]: item for item in data["items"]}


def _job_count(url: str) -> int:
    return httpx.get(f"{url}/jobs").json()["total"]


def test_batch_on_a_server_resumes_without_duplicates(clean_env, tmp_path, run_cli, live_server):
    server = live_server().start()
    prompts = tmp_path / "props.jsonl"
    lines = [{"prompt": f"prop {i}", "texture_size": 0} for i in range(6)]
    lines.append({"prompt": "a broken one", "refine_steps": 5})  # prompts cannot refine
    prompts.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    library = tmp_path / "library"
    args = ["batch", str(prompts), "--out", str(library), "--server", server.url]

    code, err = run_cli(*args)
    assert code == 1 and "6 succeeded" in err and "1 failed" in err  # the bad item alone
    items = _manifest(library)
    assert "refine_steps" in items["a broken one"]["error"]
    for prompt in (f"prop {i}" for i in range(6)):
        item = items[prompt]
        assert item["status"] == "succeeded" and item["job"] and "sample" in item["timings"]
        assert (library / item["files"][0]).read_bytes()[:4] == b"glTF"
        assert (library / item["thumbnail"]).is_file()
    index = (library / "index.html").read_text()
    assert all(f"prop {i}" in index for i in range(6))
    jobs_after_first_run = _job_count(server.url)
    assert jobs_after_first_run == 6

    # Interrupted while a job ran: the item's file is gone and it is marked running. The
    # re-run follows that same job (no new one) and downloads it again.
    data = json.loads((library / "manifest.json").read_text())
    victim = next(item for item in data["items"] if item["prompt"] == "prop 2")
    victim["status"] = "running"
    (library / victim["files"][0]).unlink()
    (library / "manifest.json").write_text(json.dumps(data))
    code, err = run_cli(*args)
    assert "6 succeeded" in err and "5 from earlier runs" in err
    assert (library / victim["files"][0]).is_file()
    assert _manifest(library)["prop 2"]["job"] == victim["job"]
    assert _job_count(server.url) == jobs_after_first_run  # nothing submitted twice


def test_obj_assets_keep_their_companion_files(clean_env, tmp_path, run_cli, live_server):
    server = live_server().start()
    prompts = tmp_path / "one.txt"
    prompts.write_text("a wooden crate\n")
    library = tmp_path / "objs"
    code, err = run_cli(
        "batch", str(prompts), "--out", str(library), "--server", server.url, "--format", "obj"
    )
    assert code == 0, err
    item = next(iter(_manifest(library).values()))
    main = library / item["files"][0]
    assert main.suffix == ".obj" and main.parent.name == item["id"]
    mtl = [line.split()[1] for line in main.read_text().splitlines() if line.startswith("mtllib")]
    assert mtl and (main.parent / mtl[0]).is_file()  # the names the OBJ refers to exist


def test_a_new_attempt_gets_a_new_key() -> None:
    item = BatchItem(id="00001-a-chair", prompt="a chair", seed=3)
    body = request_body(item, "glb")
    first = idempotency_key(item, body)
    assert idempotency_key(item, body) == first
    item.attempt += 1
    assert idempotency_key(item, body) != first
    assert idempotency_key(item, request_body(item, "obj")) != idempotency_key(item, body)


def test_unreachable_or_bad_servers_are_clear(clean_env, tmp_path, run_cli) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("a chair\n")
    code, err = run_cli(
        "batch", str(prompts), "--out", str(tmp_path / "l"), "--server", "http://127.0.0.1:9"
    )
    assert code != 0 and "cannot reach http://127.0.0.1:9" in err
    with pytest.raises(ServiceError, match="http"):
        ServiceClient("ftp://example")
    code, err = run_cli(
        "batch", str(prompts), "--out", str(tmp_path / "m"), "--server", "http://x", "--model", "y"
    )
    assert code != 0 and "--model picks a local model" in err


def test_client_waits_out_429_and_retries_5xx() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "slow down"}),
            httpx.Response(503, json={"detail": "restarting"}),
            httpx.Response(202, json={"id": "abc", "status": "queued"}),
        ]
    )
    slept: list[float] = []
    client = ServiceClient(
        "http://service",
        sleep=slept.append,
        transport=httpx.MockTransport(lambda request: next(answers)),
    )
    assert client.submit({"prompt": "a chair"}, "key")["id"] == "abc"
    assert slept == [7.0, 1.0]  # the service's Retry-After, then a back-off
    refusing = ServiceClient(
        "http://service",
        sleep=slept.append,
        transport=httpx.MockTransport(lambda r: httpx.Response(422, json={"detail": "steps"})),
    )
    with pytest.raises(Exception, match="steps"):
        refusing.submit({"prompt": "a chair", "steps": 0}, "key")


def test_image_items_are_uploaded_once(clean_env, tmp_path, run_cli, live_server) -> None:
    server = live_server().start()
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, colour in (("crate.png", (150, 100, 40)), ("mug.jpg", (20, 40, 200))):
        canvas = np.full((96, 128, 3), 255, dtype=np.uint8)
        canvas[24:72, 32:96] = colour
        Image.fromarray(canvas).save(photos / name)
    library = tmp_path / "scans"
    args = ["batch", str(photos), "--out", str(library), "--server", server.url]
    code, err = run_cli(*args, "--texture-size", "0")
    assert code == 0 and "2 succeeded" in err, err
    data = json.loads((library / "manifest.json").read_text())
    for item in data["items"]:
        assert (library / item["files"][0]).read_bytes()[:4] == b"glTF"
        assert (library / item["input_thumbnail"]).is_file()
        job = httpx.get(f"{server.url}/jobs/{item['job']}").json()
        assert job["request"]["texture_size"] == 0 and "prompt" not in job["request"]
    assert _job_count(server.url) == 2

    # Interrupted while the mug's job ran: the re-run finds that job by its key.
    mug = next(item for item in data["items"] if item["image"].endswith("mug.jpg"))
    mug["status"], mug["job"] = "running", None
    (library / mug["files"][0]).unlink()
    (library / "manifest.json").write_text(json.dumps(data))
    code, err = run_cli(*args, "--texture-size", "0")
    assert code == 0 and "1 from earlier runs" in err, err
    assert _job_count(server.url) == 2  # the same upload replayed the same job


def test_mesh_rows_upload_their_mesh(clean_env, tmp_path, run_cli, live_server) -> None:
    import trimesh

    server = live_server().start()
    box = trimesh.creation.box(extents=(4.0, 2.0, 2.0))
    box.apply_translation([10.0, -3.0, 5.0])
    box.export(tmp_path / "box.glb")
    rows = tmp_path / "paint.jsonl"
    rows.write_text(
        '{"prompt": "a red box", "mesh": "box.glb", "keep_geometry": true}\n'
        '{"prompt": "a blue box", "mesh": "box.glb", "strength": 0.3}\n'
        '{"prompt": "a green box", "mesh": "box.glb", "keep_geometry": true, "keep_uvs": false}\n'
    )
    library = tmp_path / "painted"
    args = ["batch", str(rows), "--out", str(library), "--server", server.url]
    code, err = run_cli(*args, "--texture-size", "0")
    assert code == 0 and "3 succeeded" in err, err
    items = _manifest(library)
    painted = trimesh.load(library / items["a red box"]["files"][0], force="mesh")
    np.testing.assert_allclose(painted.bounds, box.bounds, atol=1e-5)
    job = httpx.get(f"{server.url}/jobs/{items['a red box']['job']}").json()
    assert job["request"]["keep_geometry"] is True and job["request"]["mesh"].endswith(".glb")
    job = httpx.get(f"{server.url}/jobs/{items['a blue box']['job']}").json()
    assert job["request"]["strength"] == 0.3 and "keep_geometry" not in job["request"]
    job = httpx.get(f"{server.url}/jobs/{items['a green box']['job']}").json()
    assert job["request"]["new_uvs"] is True  # keep_uvs false, as the form asks it
