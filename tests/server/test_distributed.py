"""Distributed mode for real: the API sends jobs through the local Redis, two `gen3d worker`
processes run them from the local PostgreSQL store, and one is killed mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gen3d.settings import Settings
from server.app import create_app
from server.store import JobStore

pytestmark = pytest.mark.cost(30)  # seconds in the default run: scheduled early

REDIS = "redis://127.0.0.1:6379/0"
FINAL = ("succeeded", "failed", "canceled")


@pytest.fixture
def cluster_settings(tmp_path: Path, postgres_url: str, tiny_pipeline_path) -> dict[str, str]:
    """The GEN3D_* settings the API and the workers share (a queue of this test's own)."""
    import redis

    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {REDIS} is not reachable ({error})")
    return {
        "GEN3D_QUEUE": "distributed",
        "GEN3D_DATABASE_URL": postgres_url,
        "GEN3D_BROKER_URL": REDIS,
        "GEN3D_BROKER_QUEUE": f"gen3d-test-{uuid.uuid4().hex[:8]}",
        "GEN3D_DATA_DIR": str(tmp_path / "data"),
        "GEN3D_RESULTS_DIR": str(tmp_path / "shared-results"),
        "GEN3D_MODEL_PATH": str(tiny_pipeline_path),
        "GEN3D_LEASE_SECONDS": "2",
        "GEN3D_DEVICE": "cpu",
    }


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    full = os.environ | env | {"OMP_NUM_THREADS": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gen3d", "worker"], env=full, stdout=out, stderr=out
        )


def _settings(env: dict[str, str]) -> Settings:
    return Settings(**{name.removeprefix("GEN3D_").lower(): value for name, value in env.items()})


def test_two_workers_one_killed_mid_job(cluster_settings, tmp_path: Path) -> None:
    settings = _settings(cluster_settings)
    store = JobStore(settings.database_url)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [_start_worker(cluster_settings, log) for log in logs]
    try:
        with TestClient(create_app(settings)) as client:
            slow = client.post(
                "/generate",
                json={
                    "prompt": "a slow vase",
                    "steps": 200,
                    "resolution": 256,
                    "texture_size": 1024,
                },
            ).json()
            quick = [
                client.post("/generate", json={"prompt": f"quick {i}", "texture_size": 0}).json()
                for i in range(4)
            ]
            deadline = time.monotonic() + 120
            while (job := store.get(slow["id"])).status != "running":
                assert time.monotonic() < deadline, "no worker took the job: " + logs[0].read_text()
                time.sleep(0.05)
            pid = int(job.worker.split(":")[1])
            victim = next(w for w in workers if w.pid == pid)
            victim.send_signal(signal.SIGKILL)  # mid-job: no clean-up code runs
            victim.wait(10)

            deadline = time.monotonic() + 180
            ids = [slow["id"]] + [item["id"] for item in quick]
            while not all(store.get(i).status in FINAL for i in ids):
                assert time.monotonic() < deadline, [store.get(i).status for i in ids]
                time.sleep(0.2)
            done = client.get(f"/jobs/{slow['id']}").json()
            assert done["status"] == "succeeded", done
            assert done["attempts"] == 2  # the killed worker's attempt, then the survivor's
            assert store.get(slow["id"]).worker.split(":")[1] != str(pid)
            assert all(client.get(f"/jobs/{i}").json()["status"] == "succeeded" for i in ids)
            glb = client.get(done["links"]["asset.glb"])  # written by a worker, served by the API
            assert glb.status_code == 200 and glb.content[:4] == b"glTF"
            assert client.get("/readyz").json() == {"status": "ready"}
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(30)
        store.close()


def test_an_unreachable_broker_refuses_the_job(cluster_settings) -> None:
    env = cluster_settings | {"GEN3D_BROKER_URL": "redis://127.0.0.1:1/0"}
    settings = _settings(env)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/generate", json={"prompt": "a chair"})
        assert (answer.status_code, answer.json()["code"]) == (503, "broker_unreachable")
        # Not left queued with no message: failed, and the API says it is not ready.
        assert client.get("/jobs").json()["items"][0]["status"] == "failed"
        assert client.get("/readyz").json()["code"] == "broker_unreachable"


def test_worker_needs_a_shared_store(run_cli, clean_env) -> None:
    code, err = run_cli("worker")
    assert code != 0 and "GEN3D_DATABASE_URL" in err
