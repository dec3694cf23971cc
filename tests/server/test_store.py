"""The job store on SQLite (embedded) and the local PostgreSQL (shared), for real."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from server.store import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    IdempotencyConflict,
    JobStore,
    StoreError,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[JobStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    jobs = JobStore(url)
    yield jobs
    jobs.close()


def test_jobs_queue_run_and_finish(store: JobStore) -> None:
    first, created = store.create({"prompt": "a chair", "seed": 1})
    second, _ = store.create({"prompt": "a mug"})
    assert created and first.status == QUEUED and first.attempts == 0
    assert store.queue_position(first.id) == 0 and store.queue_position(second.id) == 1

    claimed = store.claim("worker-a")
    assert claimed is not None and claimed.id == first.id  # oldest first
    assert claimed.status == RUNNING and claimed.attempts == 1 and claimed.worker == "worker-a"
    assert store.heartbeat(first.id, "worker-a", stage="sample", progress=0.4)
    assert store.get(first.id).stage == "sample" and store.get(first.id).progress == 0.4
    assert not store.heartbeat(first.id, "worker-b")  # not its job
    assert store.finish(first.id, "worker-a", SUCCEEDED, result={"files": ["asset.glb"]})
    done = store.get(first.id)
    assert done.status == SUCCEEDED and done.result == {"files": ["asset.glb"]} and done.final
    # A final state never changes.
    assert not store.finish(first.id, "worker-a", FAILED, error="late")
    assert store.request_cancel(first.id).status == SUCCEEDED
    jobs, total = store.list()
    assert total == 2 and [j.id for j in jobs] == [second.id, first.id]  # newest first
    assert store.list(status=SUCCEEDED)[1] == 1
    assert store.counts() == {"queued": 1, "running": 0, "succeeded": 1, "failed": 0, "canceled": 0}
    with pytest.raises(StoreError, match="unknown status"):
        store.list(status="done")


def test_idempotency_keys(store: JobStore) -> None:
    job, created = store.create({"prompt": "a lamp", "seed": 3}, idempotency_key="k1")
    again, created_again = store.create({"seed": 3, "prompt": "a lamp"}, idempotency_key="k1")
    assert created and not created_again and again.id == job.id
    with pytest.raises(IdempotencyConflict, match="different request"):
        store.create({"prompt": "a sofa"}, idempotency_key="k1")
    # Keys belong to their owner.
    other, created_other = store.create({"prompt": "a sofa"}, owner="key-2", idempotency_key="k1")
    assert created_other and other.id != job.id


def test_cancel_queued_and_running(store: JobStore) -> None:
    queued, _ = store.create({"prompt": "a"})
    assert store.request_cancel(queued.id).status == CANCELED
    running, _ = store.create({"prompt": "b"})
    assert store.claim("w").id == running.id
    flagged = store.request_cancel(running.id)
    assert flagged.status == RUNNING and flagged.cancel_requested
    assert not store.heartbeat(running.id, "w")  # the worker learns it should stop
    assert store.finish(running.id, "w", CANCELED)
    assert store.claim("w") is None
    with pytest.raises(StoreError, match="no job"):
        store.request_cancel("missing")


def test_dead_workers_jobs_are_requeued_up_to_the_attempt_cap(store: JobStore) -> None:
    job, _ = store.create({"prompt": "crashes its worker"})
    for attempt in range(1, store.max_attempts + 1):
        claimed = store.claim(f"worker-{attempt}", lease_seconds=0.0)
        assert claimed.id == job.id and claimed.attempts == attempt
        time.sleep(0.01)
        requeued, failed = store.requeue_expired()
        if attempt < store.max_attempts:
            assert (requeued, failed) == ([job.id], 0) and store.get(job.id).status == QUEUED
            # The old worker's late result is refused: the job is no longer its own.
            assert not store.finish(job.id, f"worker-{attempt}", SUCCEEDED)
    final = store.get(job.id)
    assert final.status == FAILED and "stopped responding" in final.error


def test_concurrent_workers_never_share_a_job(store: JobStore) -> None:
    ids = {store.create({"prompt": f"item {i}"})[0].id for i in range(24)}
    claimed: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := store.claim(name)) is not None:
            with lock:
                claimed.append(job.id)
            store.finish(job.id, name, SUCCEEDED)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == sorted(ids)  # every job exactly once
    assert store.counts()["succeeded"] == 24


def test_sqlite_store_is_durable_and_survives_restarts(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    store = JobStore(url)
    with store.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    running, _ = store.create({"prompt": "was running"})
    assert store.claim("dead-worker", lease_seconds=0.0).id == running.id
    queued, _ = store.create({"prompt": "kept"})
    store.close()

    reopened = JobStore(url)  # a restart: nothing accepted is lost
    assert reopened.get(queued.id).status == QUEUED
    time.sleep(0.01)
    assert reopened.requeue_expired() == ([running.id], 0)
    assert reopened.get(running.id).status == QUEUED and reopened.get(running.id).attempts == 1
    reopened.close()


def test_claim_job_takes_a_named_job_once(store: JobStore) -> None:
    job, _ = store.create({"prompt": "named"})
    assert store.claim_job("missing", "a") is None
    first = store.claim_job(job.id, "a", lease_seconds=60)
    assert first.status == RUNNING and first.worker == "a" and first.attempts == 1
    assert store.claim_job(job.id, "b") is None  # a live lease: not b's to take
    store.finish(job.id, "a", SUCCEEDED)
    assert store.claim_job(job.id, "b") is None  # final: never again


def test_claim_job_takes_over_an_expired_lease(store: JobStore) -> None:
    job, _ = store.create({"prompt": "orphaned"})
    assert store.claim_job(job.id, "dead", lease_seconds=0.0) is not None
    time.sleep(0.01)
    taken = store.claim_job(job.id, "alive")
    assert taken.worker == "alive" and taken.attempts == 2
    assert not store.finish(job.id, "dead", SUCCEEDED)  # the dead worker's late word
    assert store.finish(job.id, "alive", SUCCEEDED)


def test_a_cancel_asked_while_the_worker_died_is_honoured(store: JobStore) -> None:
    job, _ = store.create({"prompt": "cancel me"})
    store.claim("dead", lease_seconds=0.0)
    store.request_cancel(job.id)
    time.sleep(0.01)
    assert store.requeue_expired() == ([], 0)
    assert store.get(job.id).status == CANCELED


def test_fail_queued_only_fails_untaken_jobs(store: JobStore) -> None:
    waiting, _ = store.create({"prompt": "unsent"})
    taken, _ = store.create({"prompt": "taken"})
    store.claim_job(taken.id, "w")
    assert store.fail_queued(waiting.id, "the queue was unreachable")
    assert not store.fail_queued(taken.id, "nope")
    assert store.get(waiting.id).status == FAILED
    assert store.get(taken.id).status == RUNNING
