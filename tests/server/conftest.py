"""A real ``gen3d serve`` process for the tests that need one (kill, restart, concurrency)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

FINAL = ("succeeded", "failed", "canceled")
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the local PostgreSQL whose tables live in a schema of this test's own
    (dropped afterwards); skips where no server answers."""
    import uuid

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as error:
        pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable ({type(error).__name__})")
    yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """``gen3d serve`` in a subprocess over ``data_dir``; ``start`` waits until it is ready."""

    def __init__(self, data_dir: Path, model: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | {
            "GEN3D_DATA_DIR": str(data_dir),
            "GEN3D_MODEL_PATH": str(model),
            "GEN3D_DEVICE": "cpu",
            "GEN3D_LOG_LEVEL": "WARNING",
            "OMP_NUM_THREADS": "1",
            **{f"GEN3D_{name.upper()}": value for name, value in settings.items()},
        }
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> LiveServer:
        command = [sys.executable, "-m", "gen3d", "serve", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine loses power."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait(self, client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = client.get(f"{self.url}/jobs/{job_id}").json()
            if job["status"] in FINAL:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.fixture
def live_server(tmp_path, tiny_pipeline_path) -> Iterator[callable]:
    """A factory: ``live_server(**settings)`` starts a server over this test's data dir."""
    servers: list[LiveServer] = []

    def make(**settings: str) -> LiveServer:
        server = LiveServer(tmp_path / "data", tiny_pipeline_path, **settings)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
