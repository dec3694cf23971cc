"""The service's image uploads, event stream, metrics, keys, limits and web page, over HTTP
against the tiny pipeline."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from gen3d.apikeys import hash_api_key, new_api_key
from gen3d.settings import Settings
from server.app import create_app

pytestmark = pytest.mark.cost(25)  # seconds in the default run: scheduled early

FINAL = ("succeeded", "failed", "canceled")
MALFORMED = Path(__file__).resolve().parents[1] / "fixtures" / "meshes" / "malformed"


def _settings(tmp_path, **overrides) -> Settings:
    return Settings(data_dir=tmp_path / "data", **overrides)


def _png(colour: str = "red") -> bytes:
    image = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(image).ellipse((16, 16, 80, 80), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _wait(client: TestClient, job_id: str, headers: dict | None = None) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=headers).json()
        if job["status"] in FINAL:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture
def client(tmp_path, tiny_pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path), load_pipeline=lambda: tiny_pipeline)) as c:
        yield c


def test_image_upload_makes_an_asset(client: TestClient) -> None:
    files = {"image": ("ball.png", _png(), "image/png")}
    answer = client.post("/generate", files=files, data={"seed": "5", "texture_size": "0"})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["request"]["image"].startswith("inputs/") and "prompt" not in job["request"]
    done = _wait(client, job["id"])
    assert done["status"] == "succeeded", done
    assert client.get(done["links"]["asset.glb"]).content[:4] == b"glTF"
    assert "warnings" not in done["result"]
    # The ball in a room, patches of other colours all round: it is made, with a warning.
    room = np.random.default_rng(0).integers(0, 255, (4, 4, 3), dtype=np.uint8)
    picture = Image.fromarray(room.repeat(16, 0).repeat(16, 1))
    picture.paste((220, 30, 30), (20, 20, 44, 44))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    files = {"image": ("room.png", buffer.getvalue(), "image/png")}
    job = client.post("/generate", files=files, data={"seed": "5", "texture_size": "0"}).json()
    done = _wait(client, job["id"])
    assert done["status"] == "succeeded"
    assert "background is not plain" in done["result"]["warnings"][0]


def test_an_image_job_refines_from_the_view_it_is_told_or_estimates(client) -> None:
    files = {"image": ("ball.png", _png(), "image/png")}
    data = {"seed": "5", "texture_size": "64", "refine_steps": "3"}
    told = client.post("/generate", files=files, data={**data, "view": " 210, 15, -5 "}).json()
    assert told["request"]["view"] == "210,15,-5"  # and the picture turned 5 degrees clockwise
    estimated = client.post("/generate", files=files, data=data).json()
    done = _wait(client, told["id"])
    assert done["result"]["view"] == {
        "source": "given",
        "azimuth": 210.0,
        "elevation": 15.0,
        "roll": -5.0,
    }
    assert 0.0 <= done["result"]["light_contrast"] <= 1.0  # how uneven the photo's light was
    assert done["result"]["highlights"] in (0, 1)  # highlights taken out of the photo
    shadow_light = done["result"]["shadow_light"]  # light left in cast shadows; None: none
    assert shadow_light is None or 0.0 < shadow_light <= 0.9
    assert len(done["result"]["colour_cast"]) == 3  # the generated texture's white balance
    symmetry = done["result"]["symmetry"]  # turns the shape is symmetric under, share carried
    assert isinstance(symmetry["turns"], list) and 0.0 <= symmetry["carried"] <= 1.0
    view = _wait(client, estimated["id"])["result"]["view"]
    assert view["source"] == "estimated" and 0.0 <= view["iou"] <= 1.0


def test_symmetry_false_keeps_the_refined_colours_to_the_photos_side(client) -> None:
    files = {"image": ("ball.png", _png(), "image/png")}
    data = {"seed": "5", "texture_size": "64", "refine_steps": "3", "symmetry": "false"}
    answer = client.post("/generate", files=files, data=data)
    assert answer.status_code == 202, answer.text
    assert answer.json()["request"]["symmetry"] is False
    done = _wait(client, answer.json()["id"])
    assert done["result"]["symmetry"]["carried"] == 0.0
    assert done["result"]["symmetry"]["mirror"] is None
    # Only an image's colours are refined and carried.
    mesh = {"mesh": ("box.ply", b"ply", "application/octet-stream")}
    form = {"prompt": "a red box", "symmetry": "false"}
    refused = client.post("/generate", files=mesh, data=form)
    assert refused.status_code == 422, refused.text
    assert "symmetry" in refused.text and "goes with an image" in refused.text


def test_a_model_that_refines_by_default_takes_a_view_alone(client, refining_by_default) -> None:
    """The default model refines image jobs unless told refine_steps 0, so a view needs no
    refine_steps beside it (the web page sends one without)."""
    files = {"image": ("ball.png", _png(), "image/png")}
    data = {"seed": "5", "texture_size": "64", "view": "210,15"}
    answer = client.post("/generate", files=files, data=data)
    assert answer.status_code == 202, answer.text
    done = _wait(client, answer.json()["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["view"] == {"source": "given", "azimuth": 210.0, "elevation": 15.0}


@pytest.mark.parametrize(
    ("files", "data", "status", "code"),
    [
        ({"image": ("x.gif", b"GIF89a....", "image/gif")}, {}, 415, "unsupported_image_type"),
        ({"image": ("x.png", b"", "image/png")}, {}, 422, "invalid_image"),
        ({"other": ("x.png", b"abc", "image/png")}, {}, 422, "invalid_request"),
        ({"image": ("x.png", b"abc", "image/png")}, {"steps": "many"}, 422, "invalid_request"),
        ({"image": ("x.png", b"abc", "image/png")}, {"colour": "red"}, 422, "invalid_request"),
    ],
    ids=["gif", "empty", "no-image-field", "bad-option", "unknown-option"],
)
def test_bad_uploads_answer_with_their_problem(client, files, data, status, code) -> None:
    answer = client.post("/generate", files=files, data=data)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_mistyped_option_names_the_option_it_is_closest_to(client) -> None:
    form = client.post("/generate", files={"imag": ("x.png", _png(), "image/png")})
    json_body = client.post("/generate", json={"prompt": "a box", "texure_size": 512})
    unlike = client.post("/generate", json={"prompt": "a box", "colour": "red"})
    assert [answer.status_code for answer in (form, json_body, unlike)] == [422] * 3
    assert form.json()["errors"] == [
        {
            "field": "imag",
            "message": "a file in an unknown field; files go in image or mesh "
            "(did you mean 'image'?)",
        }
    ]
    assert "(did you mean 'texture_size'?)" in json_body.json()["detail"]
    assert unlike.json()["errors"] == [
        {"field": "colour", "message": "Extra inputs are not permitted"}
    ]


def _box_ply(subdivisions: int | None = None) -> bytes:
    """A user's mesh in its own units: a box far from the origin (or a sphere, for size)."""
    import trimesh

    if subdivisions is not None:
        return trimesh.creation.icosphere(subdivisions=subdivisions).export(file_type="ply")
    box = trimesh.creation.box(extents=(4.0, 2.0, 2.0))
    box.apply_translation([10.0, -3.0, 5.0])
    return box.export(file_type="ply")


def test_a_mesh_upload_is_painted_in_place_or_started_from(client: TestClient) -> None:
    import trimesh

    mesh = {"mesh": ("box.ply", _box_ply(), "application/octet-stream")}
    paint = {"prompt": "a red box", "keep_geometry": "true", "seed": "2", "new_uvs": "false"}
    answer = client.post("/generate", files=mesh, data=paint)
    assert answer.status_code == 202, answer.text
    request = answer.json()["request"]
    assert request["mesh"].startswith("inputs/") and request["mesh"].endswith(".ply")
    done = _wait(client, answer.json()["id"])
    assert done["status"] == "succeeded", done
    painted = trimesh.load(
        io.BytesIO(client.get(done["links"]["asset.glb"]).content), file_type="glb", force="mesh"
    )
    box = trimesh.load(io.BytesIO(_box_ply()), file_type="ply")
    np.testing.assert_allclose(painted.bounds, box.bounds, atol=1e-5)  # its own units
    assert done["result"]["faces"] == len(box.faces)

    vary = {"prompt": "a red box", "strength": "0.4", "texture_size": "0", "up": "z"}
    done = _wait(client, client.post("/generate", files=mesh, data=vary).json()["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["faces"] != len(box.faces)  # a new mesh, from the field


@pytest.mark.parametrize(
    ("files", "data", "status", "code", "message"),
    [
        (
            {"mesh": ("x.gif", b"GIF89a", "image/gif")},
            {"prompt": "a box"},
            415,
            "unsupported_mesh_type",
            "not a mesh file",
        ),
        (
            {"mesh": ("x.ply", b"", "application/octet-stream")},
            {"prompt": "a box"},
            422,
            "invalid_mesh",
            "empty",
        ),
        (
            {"mesh": ("soup.stl", MALFORMED.joinpath("soup.stl").read_bytes(), "model/stl")},
            {"prompt": "a box"},
            422,
            "invalid_mesh",
            "soup.stl: is a triangle soup",
        ),
        (
            {"mesh": ("ball.ply", _box_ply(subdivisions=2), "application/octet-stream")},
            {"prompt": "a box"},
            422,
            "invalid_mesh",
            "320 faces, over the limit of 100",
        ),
        (
            {},
            {"prompt": "a box", "strength": "0.5"},
            422,
            "invalid_request",
            "strength goes with a mesh file",
        ),
        ({}, {"prompt": "a box", "up": "z"}, 422, "invalid_request", "up goes with a mesh file"),
        (
            {"image": ("x.png", _png(), "image/png")},
            {"prompt": "a box"},
            422,
            "invalid_request",
            "exactly one",
        ),
        (
            {"mesh": ("x.ply", _box_ply(), "application/octet-stream")},
            {},
            422,
            "invalid_request",
            "exactly one",
        ),
        (
            {},
            {"prompt": "a box", "refine_steps": "5"},
            422,
            "invalid_request",
            "refine_steps needs an image",
        ),
        (
            {"image": ("x.png", _png(), "image/png")},
            {"view": "30,20", "refine_steps": "0"},
            422,
            "invalid_request",
            "it goes with an image, and not with refine_steps 0",
        ),
        (
            {"image": ("x.png", _png(), "image/png")},
            {"view": "30,120", "refine_steps": "5"},
            422,
            "invalid_request",
            "elevation 120 is out of range",
        ),
    ],
    ids=[
        "gif",
        "empty",
        "soup",
        "too-many-faces",
        "strength-alone",
        "up-alone",
        "both",
        "neither",
        "refine-a-prompt",
        "view-without-refining",
        "view-out-of-range",
    ],
)
def test_bad_mesh_forms_answer_with_their_problem(
    tmp_path, tiny_pipeline, files, data, status, code, message
) -> None:
    app = create_app(_settings(tmp_path, max_mesh_faces=100), load_pipeline=lambda: tiny_pipeline)
    with TestClient(app) as client:
        if not files:  # a multipart form of text fields only
            files, data = {name: (None, value) for name, value in data.items()}, {}
        answer = client.post("/generate", files=files, data=data)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert message in answer.json()["detail"]
    stored = list((tmp_path / "data").rglob("inputs/*"))
    assert all(path.suffix == ".png" for path in stored), stored  # no bad mesh kept


def test_other_bodies_are_refused(client: TestClient) -> None:
    text = {"Content-Type": "text/plain"}
    answer = client.post("/generate", content=b"prompt=a chair", headers=text)
    assert (answer.status_code, answer.json()["code"]) == (415, "unsupported_media_type")
    json_type = {"Content-Type": "application/json"}
    broken = client.post("/generate", content=b"{not json", headers=json_type)
    assert (broken.status_code, broken.json()["code"]) == (422, "invalid_request")


def test_bodies_over_the_limit_get_413(tmp_path, tiny_pipeline) -> None:
    app = create_app(_settings(tmp_path, max_upload_mb=0.01), start_worker=False)
    with TestClient(app) as client:
        files = {"image": ("big.png", b"\0" * 20_000, "image/png")}
        answer = client.post("/generate", files=files)
        assert (answer.status_code, answer.json()["code"]) == (413, "payload_too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
            yield b'{"prompt": "'
            for _ in range(30):
                yield b"x" * 1000
            yield b'"}'

        streamed = client.post(
            "/generate", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert (streamed.status_code, streamed.json()["code"]) == (413, "payload_too_large")
        assert client.get("/jobs").json()["total"] == 0


def _events(client: TestClient, job_id: str, headers: dict | None = None) -> list[dict]:
    events = []
    with client.stream("GET", f"/jobs/{job_id}/events", headers=headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        block: dict = {}
        for line in stream.iter_lines():
            if not line:
                if block:
                    events.append(block)
                block = {}
                continue
            field, _, value = line.partition(": ")
            block[field] = value
    return events


def test_event_stream_follows_a_job_to_its_end(client: TestClient) -> None:
    job = client.post("/generate", json={"prompt": "a lamp", "texture_size": 0}).json()
    events = _events(client, job["id"])
    assert events and all(event["event"] == "job" for event in events)
    views = [json.loads(event["data"]) for event in events]
    assert views[-1]["status"] == "succeeded" and views[-1]["links"]["asset.glb"]
    progress = [view["progress"] for view in views if view["status"] == "running"]
    assert progress == sorted(progress)  # progress never goes back
    assert len({event["id"] for event in events}) == len(events)  # each event a new state
    assert events[0]["retry"] == "2000"
    # A client that has seen the end is told to stop reconnecting.
    again = client.get(f"/jobs/{job['id']}/events", headers={"Last-Event-ID": events[-1]["id"]})
    assert again.status_code == 204
    assert client.get("/jobs/nope/events").json()["code"] == "job_not_found"


def test_metrics_count_jobs_stages_and_requests(client: TestClient) -> None:
    job = client.post("/generate", json={"prompt": "a cup", "texture_size": 0}).json()
    _wait(client, job["id"])
    text = client.get("/metrics").text
    assert 'gen3d_jobs{status="succeeded"} 1.0' in text
    assert "gen3d_queue_depth 0.0" in text
    assert 'gen3d_jobs_finished_total{status="succeeded"} 1.0' in text
    assert 'gen3d_stage_seconds_count{stage="sample"} 1.0' in text
    assert 'gen3d_http_requests_total{method="POST",route="/generate",status="202"} 1.0' in text
    assert 'route="/jobs/{job_id}"' in text and job["id"] not in text  # templates, not paths


def test_api_keys_guard_and_separate_jobs(tmp_path, tiny_pipeline) -> None:
    alice, bob = new_api_key(), new_api_key()
    settings = _settings(tmp_path, api_keys=[hash_api_key(alice), hash_api_key(bob)])
    with TestClient(create_app(settings, start_worker=False)) as client:
        refused = client.post("/generate", json={"prompt": "a hat"})
        assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
        assert refused.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/jobs", headers={"Authorization": "Bearer g3d_guess"})
        assert wrong.status_code == 401
        as_alice = {"Authorization": f"Bearer {alice}"}
        job = client.post("/generate", json={"prompt": "a hat"}, headers=as_alice).json()
        assert client.get(f"/jobs/{job['id']}", headers=as_alice).status_code == 200
        as_bob = {"X-API-Key": bob}
        assert client.get(f"/jobs/{job['id']}", headers=as_bob).status_code == 404
        assert client.post(f"/jobs/{job['id']}/cancel", headers=as_bob).status_code == 404
        assert client.get("/jobs", headers=as_bob).json()["total"] == 0
        assert client.get("/jobs", headers=as_alice).json()["total"] == 1
        assert client.get("/healthz").status_code == 200  # probes need no key


def test_rate_limit_and_unfinished_job_cap(tmp_path) -> None:
    limited = _settings(tmp_path, rate_limit_per_minute=1, rate_limit_burst=2)
    with TestClient(create_app(limited, start_worker=False)) as client:
        for _ in range(2):
            assert client.post("/generate", json={"prompt": "a box"}).status_code == 202
        refused = client.post("/generate", json={"prompt": "a box"})
        assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
        assert int(refused.headers["retry-after"]) >= 1
    capped = _settings(tmp_path / "capped", rate_limit_per_minute=0, max_queued_per_key=3)
    with TestClient(create_app(capped, start_worker=False)) as client:
        for _ in range(3):
            assert client.post("/generate", json={"prompt": "a box"}).status_code == 202
        refused = client.post("/generate", json={"prompt": "a box"})
        assert (refused.status_code, refused.json()["code"]) == (429, "too_many_jobs")
        first = client.get("/jobs").json()["items"][0]["id"]
        client.post(f"/jobs/{first}/cancel")  # one finished: room for one more
        assert client.post("/generate", json={"prompt": "a box"}).status_code == 202


def test_cors_is_off_by_default_and_configurable(tmp_path) -> None:
    preflight = {"Origin": "https://studio.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(_settings(tmp_path), start_worker=False)) as client:
        answer = client.options("/generate", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    allowed = _settings(tmp_path, cors_origins="https://studio.example")
    with TestClient(create_app(allowed, start_worker=False)) as client:
        answer = client.options("/generate", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://studio.example"


def test_web_page_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<model-viewer" in page.text
    for path in ("/static/app.js", "/static/style.css", "/vendor/model-viewer-umd.min.js"):
        assert client.get(path).status_code == 200, path
    assert client.get("/static/../app.py").status_code == 404


def test_openapi_documents_both_bodies_and_problem_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/generate"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    form = spec["components"]["schemas"]["GenerateForm"]
    assert form["properties"]["image"]["format"] == "binary"
    assert form["properties"]["mesh"]["format"] == "binary"
    assert {"prompt", "strength", "keep_geometry"} <= set(form["properties"])
    for operation in spec["paths"]["/jobs/{job_id}"].values():
        assert "application/problem+json" in operation["responses"]["404"]["content"]
    assert "rate_limited" in spec["info"]["description"]


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("texture_size", 0, True),
        ("texture_size", 64, True),
        ("texture_size", 1024, True),
        ("texture_size", 32, False),
        ("face_count", 0, True),
        ("face_count", 100, True),
        ("face_count", 50_000, True),
        ("face_count", 1, False),
    ],
)
def test_schema_and_api_agree_on_zero_or_at_least_options(tmp_path, field, value, accepted) -> None:
    """A client building requests from the document sends what the API takes, in both
    bodies: texture_size is 0 or 64 and more, face_count 0 or 100 and more."""
    _assert_schema_and_api_agree(tmp_path, {"prompt": "a crate", field: value}, field, accepted)


@pytest.mark.parametrize(
    ("prompt", "accepted"), [("a crate", True), ("\t", False), ("\x1c ", False)]
)
def test_schema_and_api_agree_on_blank_prompts(tmp_path, prompt, accepted) -> None:
    """Whitespace alone (whatever str.strip() removes) is no prompt, in the schema too."""
    _assert_schema_and_api_agree(tmp_path, {"prompt": prompt}, "prompt", accepted)


def _assert_schema_and_api_agree(tmp_path, body: dict, field: str, accepted: bool) -> None:
    """``body[field]`` is valid in both documented bodies exactly when ``accepted``, and
    POST /generate takes the body as a form and as JSON exactly then (202, or 422)."""
    import jsonschema_rs

    app = create_app(_settings(tmp_path), start_worker=False)
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()["components"]["schemas"]
        for name in ("GenerateForm", "GenerateRequest"):
            schema = spec[name]["properties"][field]
            valid = jsonschema_rs.validator_for(schema).is_valid(body[field])
            assert valid is accepted, (name, schema)
        as_form = client.post("/generate", files={k: (None, str(v)) for k, v in body.items()})
        as_json = client.post("/generate", json=body)
    expected = 202 if accepted else 422
    assert (as_form.status_code, as_json.status_code) == (expected, expected), as_form.text


def test_obj_and_usdz_results_download_with_their_types(client: TestClient) -> None:
    job = client.post("/generate", json={"prompt": "a crate", "format": "obj"}).json()
    done = _wait(client, job["id"])
    assert done["status"] == "succeeded", done
    files = done["result"]["files"]
    assert "asset.obj" in files and "asset.mtl" in files
    obj = client.get(done["links"]["asset.obj"])
    assert obj.headers["content-type"] == "model/obj" and obj.text.lstrip().startswith(
        ("#", "mtllib", "v ")
    )
    assert client.get(done["links"]["asset.mtl"]).headers["content-type"] == "model/mtl"

    job = client.post("/generate", json={"prompt": "a crate", "format": "usdz"}).json()
    done = _wait(client, job["id"])
    assert done["status"] == "succeeded", done
    usdz = client.get(done["links"]["asset.usdz"])
    assert usdz.headers["content-type"] == "model/vnd.usdz+zip"
    assert usdz.content[:2] == b"PK"  # a zip package


@pytest.mark.parametrize(
    ("device", "gpus", "expected"),
    [
        ("auto", 0, ["auto"]),
        ("cpu", 4, ["cpu"]),
        ("auto", 2, ["cuda:0", "cuda:1"]),
        ("cuda", 1, ["cuda:0"]),
        ("cuda:1", 2, ["cuda:1"]),
    ],
)
def test_one_embedded_worker_per_gpu(monkeypatch, tmp_path, device, gpus, expected) -> None:
    import torch

    from server.app import embedded_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    assert embedded_devices(_settings(tmp_path, device=device)) == expected


def test_a_prompt_the_model_does_not_know_comes_back_with_a_warning(tmp_path, tiny_pipeline):
    from gen3d.vocabulary import KnownPrompts

    captions = ["a tall red wooden chair with four legs", "a small blue ceramic mug"]
    tiny_pipeline.known_prompts = KnownPrompts.build(tiny_pipeline.text_encoder, captions)
    try:
        app = create_app(_settings(tmp_path), load_pipeline=lambda: tiny_pipeline)
        with TestClient(app) as client:
            results = {}
            for prompt in ("a wooden chair", "a horse"):
                body = {"prompt": prompt, "texture_size": 0, "steps": 2}
                done = _wait(client, client.post("/generate", json=body).json()["id"])
                assert done["status"] == "succeeded", done
                results[prompt] = done["result"]
    finally:
        tiny_pipeline.known_prompts = None
    chair, horse = results["a wooden chair"], results["a horse"]
    assert chair["familiarity"]["familiar"] and "warnings" not in chair
    assert not horse["familiarity"]["familiar"]
    assert horse["warnings"] == [
        f"'a horse' is unlike anything this model was trained on (similarity "
        f"{horse['familiarity']['similarity']:.2f} to the closest training caption, "
        f"'{horse['familiarity']['closest_known_caption']}'); expect a shape of a kind it knows"
    ]


@pytest.mark.parametrize("name", ["guidance", "seed", "texture_size", "face_count"])
def test_a_boolean_is_not_a_number(client: TestClient, name: str) -> None:
    # pydantic alone would read false as 0 (found by schemathesis: "guidance": false passed).
    answer = client.post("/generate", json={"prompt": "a chair", name: False})
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")
    assert "must be a number, not true or false" in answer.json()["detail"]
