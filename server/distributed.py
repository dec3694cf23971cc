"""Distributed mode: Celery on Redis carries job ids; the job store stays the truth.

The API stores a job, then sends a message naming it. A ``gen3d worker`` (on any machine that
reaches the store, the broker and the shared results volume) takes one message at a time
(prefetch 1, late acknowledgement), claims that job in the store and runs it with the same
``run_job`` as the embedded worker. The store decides who runs what, so a duplicate message
(a redelivery, a re-send) is harmless: its claim finds the job taken or finished.

A worker that dies mid-job stops renewing the job's lease. Every worker sweeps the store:
expired jobs are re-queued (up to their attempt cap) and their ids sent again, so another
worker finishes them within about a lease. A message whose worker vanished unacknowledged is
delivered again by the broker after ``visibility_timeout``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery

from gen3d.settings import Settings
from server.metrics import ServiceMetrics
from server.store import RUNNING, JobStore
from server.worker import run_job, worker_name

log = logging.getLogger(__name__)

TASK_NAME = "gen3d.run_job"


class BrokerUnavailable(RuntimeError):
    """The broker cannot be reached to send a job."""


def make_celery(settings: Settings) -> Celery:
    app = Celery("gen3d", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # acknowledged after the job ran, not when received
        task_reject_on_worker_lost=True,  # a killed child process returns the message
        worker_prefetch_multiplier=1,  # one job per worker at a time, the rest stay queued
        task_ignore_result=True,  # results live in the job store
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=settings.broker_queue,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


class Dispatcher:
    """The API's side: send a stored job's id to the workers."""

    def __init__(self, settings: Settings) -> None:
        self.celery = make_celery(settings)
        self.queue = settings.broker_queue

    def dispatch(self, job_id: str) -> None:
        try:
            self.celery.send_task(
                TASK_NAME,
                args=[job_id],
                queue=self.queue,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception as error:  # kombu raises several kinds for a broker that is down
            raise BrokerUnavailable(f"{type(error).__name__}: {error}") from None

    def ping(self) -> None:
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as error:
            raise BrokerUnavailable(f"{type(error).__name__}: {error}") from None

    def close(self) -> None:
        self.celery.close()


class DistributedWorker:
    """One ``gen3d worker`` process: a Celery worker (solo pool, one job at a time) with the
    pipeline loaded once, plus a sweeper thread that re-queues dead workers' jobs."""

    def __init__(
        self,
        settings: Settings,
        load_pipeline: Callable[[], Any],
        *,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = JobStore(settings.resolved_database_url)
        self.results_dir = Path(settings.resolved_results_dir)
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.celery = make_celery(settings)
        self.dispatcher = Dispatcher(settings)
        self.load_pipeline = load_pipeline
        self.metrics = metrics
        self.name = worker_name()
        self._pipeline: Any = None
        self._stop = threading.Event()

        @self.celery.task(name=TASK_NAME, bind=True, max_retries=None)
        def run(task: Any, job_id: str) -> str:
            return self.handle(job_id, retry=lambda: task.retry(countdown=self.lease_seconds))

    @property
    def lease_seconds(self) -> float:
        return self.settings.lease_seconds

    def pipeline(self) -> Any:
        if self._pipeline is None:
            self._pipeline = self.load_pipeline()
        return self._pipeline

    def handle(self, job_id: str, retry: Callable[[], Any]) -> str:
        """Run the named job if it is there to take; returns its final state or why not."""
        pipeline = self.pipeline()
        job = self.store.claim_job(job_id, self.name, self.lease_seconds)
        if job is None:
            current = self.store.get(job_id)
            if current is not None and current.status == RUNNING:
                # Another worker holds it: if that worker dies, its lease runs out and this
                # message, tried again after a lease, takes the job over.
                raise retry()
            return "skipped"
        return run_job(
            self.store,
            job,
            pipeline,
            self.name,
            self.results_dir,
            lease_seconds=self.lease_seconds,
            metrics=self.metrics,
        )

    def sweep_once(self) -> list[str]:
        requeued, failed = self.store.requeue_expired()
        for job_id in requeued:
            self.dispatcher.dispatch(job_id)
        if requeued or failed:
            log.warning("re-queued %d job(s) of dead workers, failed %d", len(requeued), failed)
        return requeued

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self.lease_seconds / 2.0):
            try:
                self.sweep_once()
            except Exception:  # store or broker down for a moment: next round
                log.warning("sweep failed", exc_info=True)

    def run(self) -> None:
        """Load the model, then take jobs until stopped (SIGTERM: after the current job)."""
        self.pipeline()  # before taking messages: a broken model fails here, loudly
        sweeper = threading.Thread(target=self._sweep_forever, name="gen3d-sweep", daemon=True)
        sweeper.start()
        worker = self.celery.Worker(
            pool="solo",
            concurrency=1,
            queues=[self.settings.broker_queue],
            hostname=f"gen3d-{self.name.replace(':', '-')}",
            loglevel=self.settings.log_level,
            without_gossip=True,
            without_mingle=True,
        )
        try:
            worker.start()
        finally:
            self._stop.set()
            self.store.close()
