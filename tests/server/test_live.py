"""A real server process: killed mid-job and restarted, and under concurrent submissions."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytestmark = pytest.mark.cost(55)  # seconds in the default run: scheduled early

SLOW_JOB = {"prompt": "a slow vase", "steps": 200, "resolution": 256, "texture_size": 1024}


def test_a_job_survives_its_server_being_killed(live_server) -> None:
    server = live_server(lease_seconds="2").start()
    with httpx.Client(timeout=10) as client:
        job = client.post(f"{server.url}/generate", json=SLOW_JOB).json()
        queued = client.post(f"{server.url}/generate", json={"prompt": "next", "texture_size": 0})
        deadline = time.monotonic() + 60
        while client.get(f"{server.url}/jobs/{job['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        server.kill()  # mid-job, with a second job still queued

        restarted = live_server(lease_seconds="2")
        restarted.port, restarted.url = server.port, server.url
        restarted.start()
        done = restarted.wait(client, job["id"])
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2  # the first attempt died with its server
        assert restarted.wait(client, queued.json()["id"])["status"] == "succeeded"
        glb = client.get(f"{server.url}{done['links']['asset.glb']}")
        assert glb.status_code == 200 and glb.content[:4] == b"glTF"


def test_fifty_concurrent_submissions_all_complete_once(live_server) -> None:
    server = live_server(rate_limit_per_minute="0").start()
    prompts = [f"object number {i}" for i in range(50)]

    def submit(prompt: str) -> str:
        with httpx.Client(timeout=30) as client:
            answer = client.post(
                f"{server.url}/generate",
                json={"prompt": prompt, "steps": 2, "resolution": 32, "texture_size": 0},
                headers={"Idempotency-Key": prompt},
            )
            assert answer.status_code == 202, answer.text
            return answer.json()["id"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = list(pool.map(submit, prompts))
        # The same submissions again (a client retrying after a timeout): no duplicates.
        assert list(pool.map(submit, prompts)) == ids
    assert len(set(ids)) == 50
    with httpx.Client(timeout=30) as client:
        finished = [server.wait(client, job_id, timeout=300) for job_id in ids]
        listed = client.get(f"{server.url}/jobs", params={"limit": 500}).json()
    assert all(job["status"] == "succeeded" for job in finished)
    assert {job["request"]["prompt"] for job in finished} == set(prompts)
    assert listed["total"] == 50 and {job["id"] for job in listed["items"]} == set(ids)
    assert all(job["attempts"] == 1 for job in finished)  # none ran twice
