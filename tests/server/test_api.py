"""The service over HTTP: jobs from POST /generate to downloaded files, for real (tiny model)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gen3d.settings import Settings
from server.app import create_app


class GatedPipeline:
    """The tiny pipeline, held at its first progress report until the test opens the gate."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline, self.gate, self.started = pipeline, threading.Event(), threading.Event()

    def __call__(self, callback=None, **kwargs: Any) -> Any:
        self.started.set()
        self.gate.wait(30)
        return self.pipeline(callback=callback, **kwargs)


def _settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", model_path=None)


@pytest.fixture
def client(tmp_path, tiny_pipeline) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path), load_pipeline=lambda: tiny_pipeline)
    with TestClient(app) as test_client:
        yield test_client


def _wait(client: TestClient, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_generate_poll_and_download(client: TestClient) -> None:
    created = client.post("/generate", json={"prompt": "a red ball", "seed": 3})
    assert created.status_code == 202
    job = created.json()
    assert created.headers["location"] == f"/jobs/{job['id']}" and job["status"] == "queued"
    assert "retry-after" in created.headers

    done = _wait(client, job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["seed"] == 3 and done["progress"] == 1.0
    assert set(done["result"]["files"]) == {"asset.glb", "preview.png"}
    glb = client.get(done["links"]["asset.glb"])
    assert glb.status_code == 200 and glb.headers["content-type"] == "model/gltf-binary"
    assert glb.content[:4] == b"glTF"
    assert client.get(done["links"]["preview.png"]).headers["content-type"] == "image/png"
    listed = client.get("/jobs", params={"status": "succeeded"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["id"]
    assert client.get("/readyz").json() == {"status": "ready"}


def test_idempotency_key(client: TestClient) -> None:
    body = {"prompt": "a mug", "texture_size": 0}
    first = client.post("/generate", json=body, headers={"Idempotency-Key": "abc"}).json()
    again = client.post("/generate", json=body, headers={"Idempotency-Key": "abc"}).json()
    assert again["id"] == first["id"]
    other = client.post("/generate", json={"prompt": "a vase"}, headers={"Idempotency-Key": "abc"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert other.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "a chair", "steps": 0}, "steps"),
        ({"prompt": "a chair", "texture_size": 10}, "texture_size"),
        ({"prompt": "a chair", "colour": "red"}, "colour"),
        ({"prompt": "x" * 1001}, "prompt"),
    ],
)
def test_bad_requests_are_problem_details(client: TestClient, body: dict, field: str) -> None:
    answer = client.post("/generate", json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "invalid_request" and field in problem["detail"]
    assert answer.headers["content-type"] == "application/problem+json"


def test_unknown_jobs_and_files(client: TestClient) -> None:
    assert client.get("/jobs/nope").json()["code"] == "job_not_found"
    job = _wait(client, client.post("/generate", json={"prompt": "a cube"}).json()["id"])
    for name in ("secret.txt", "..%2F..%2Fjobs.sqlite3", "asset.obj"):
        answer = client.get(f"/jobs/{job['id']}/files/{name}")
        assert answer.status_code == 404, name


def test_cancel_queued_and_running_jobs(tmp_path, tiny_pipeline) -> None:
    gated = GatedPipeline(tiny_pipeline)
    app = create_app(_settings(tmp_path), load_pipeline=lambda: gated)
    with TestClient(app) as client:
        running = client.post("/generate", json={"prompt": "first"}).json()
        queued = client.post("/generate", json={"prompt": "second"}).json()
        assert gated.started.wait(30)
        assert client.get(f"/jobs/{queued['id']}").json()["queue_position"] == 0
        assert client.post(f"/jobs/{queued['id']}/cancel").json()["status"] == "canceled"
        flagged = client.post(f"/jobs/{running['id']}/cancel").json()
        assert flagged["status"] == "running"
        gated.gate.set()  # the pipeline's first progress report now says stop
        assert _wait(client, running["id"])["status"] == "canceled"
        assert client.get(f"/jobs/{queued['id']}").json()["status"] == "canceled"


def test_readiness_reports_a_model_that_failed_to_load(tmp_path) -> None:
    def broken() -> Any:
        raise FileNotFoundError("no pipeline at /models/x")

    with TestClient(create_app(_settings(tmp_path), load_pipeline=broken)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        deadline = time.monotonic() + 10
        while (answer := client.get("/readyz")).json().get(
            "detail"
        ) == "the model is still loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert answer.status_code == 503 and "no pipeline at /models/x" in answer.json()["detail"]
