"""The durable job store: SQLAlchemy on SQLite (embedded) or PostgreSQL (shared).

A job's life: ``queued -> running -> succeeded | failed | canceled``; a final state never
changes. Workers ``claim`` the oldest queued job with a lease, extend it by ``heartbeat``
(which also carries progress and tells the worker when a cancel was asked for), and
``finish`` it. A job whose lease runs out (its worker died) is re-queued by
``requeue_expired`` until it has been attempted ``max_attempts`` times, then it fails: a job
that kills its worker every time ends instead of looping.

Every change is one transaction and every update is conditional on the state it expects
(``WHERE status = 'queued'``, ``WHERE worker = me``), so two workers can never both win a
job, on SQLite or PostgreSQL alike. SQLite runs in WAL mode with ``synchronous=FULL``: a
committed job survives a power cut (NORMAL can lose the last transactions).
``Idempotency-Key``: the key is stored with the job in the same transaction; the same key
with the same request returns the original job, with a different request it is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "canceled",
)
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELED})
DEFAULT_MAX_ATTEMPTS = 3


class StoreError(RuntimeError):
    """The store cannot do what was asked (unknown job, bad state)."""


class IdempotencyConflict(StoreError):
    """An Idempotency-Key reused with a different request (HTTP 422)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time here is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def request_fingerprint(request: dict[str, Any]) -> str:
    """A stable hash of a request body (key order does not matter)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("owner", "idempotency_key", name="uq_jobs_idempotency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str] = mapped_column(String(64), default="anonymous")
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_ATTEMPTS)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Job:
    """A snapshot of a job (detached from the database)."""

    id: str
    status: str
    owner: str
    request: dict[str, Any]
    idempotency_key: str | None
    stage: str | None
    progress: float
    attempts: int
    max_attempts: int
    worker: str | None
    cancel_requested: bool
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES

    @classmethod
    def of(cls, row: JobRow) -> Job:
        return cls(
            id=row.id,
            status=row.status,
            owner=row.owner,
            request=dict(row.request),
            idempotency_key=row.idempotency_key,
            stage=row.stage,
            progress=row.progress,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            worker=row.worker,
            cancel_requested=row.cancel_requested,
            result=dict(row.result) if row.result is not None else None,
            error=row.error,
            created_at=_aware(row.created_at),
            started_at=_aware(row.started_at),
            finished_at=_aware(row.finished_at),
        )


def _claimed(worker: str, now: datetime, lease_seconds: float) -> dict[str, Any]:
    """The columns a claim sets: running under ``worker``'s lease, one more attempt."""
    return {
        "status": RUNNING,
        "worker": worker,
        "attempts": JobRow.attempts + 1,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "started_at": now,
        "updated_at": now,
        "stage": None,
        "progress": 0.0,
    }


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


class JobStore:
    """Jobs in a database at ``url`` (any SQLAlchemy URL; tables are created if missing)."""

    def __init__(self, url: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, **engine_options):
        if max_attempts < 1:
            raise StoreError(f"max_attempts must be >= 1, not {max_attempts}")
        self.max_attempts = max_attempts
        self.engine = create_engine(url, **engine_options)
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- creating and reading ----------------------------------------------------------------

    def create(
        self,
        request: dict[str, Any],
        *,
        owner: str = "anonymous",
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; ``(job, created)``. With a key already used by ``owner``: the same
        request gives back that job (``created`` False), another raises IdempotencyConflict."""
        fingerprint = request_fingerprint(request)
        now = _now()
        row = JobRow(
            id=uuid.uuid4().hex,
            status=QUEUED,
            owner=owner,
            request=request,
            request_hash=fingerprint,
            idempotency_key=idempotency_key,
            progress=0.0,
            attempts=0,
            max_attempts=self.max_attempts,
            cancel_requested=False,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._session.begin() as session:
                session.add(row)
            return Job.of(row), True
        except IntegrityError:
            if idempotency_key is None:
                raise
        existing = self._by_key(owner, idempotency_key)
        if existing is None:  # deleted in between: try once more
            return self.create(request, owner=owner, idempotency_key=idempotency_key)
        if existing.request_hash != fingerprint:
            raise IdempotencyConflict(
                f"Idempotency-Key {idempotency_key!r} was used for a different request"
            )
        return Job.of(existing), False

    def _by_key(self, owner: str, key: str) -> JobRow | None:
        with self._session() as session:
            query = select(JobRow).where(JobRow.owner == owner, JobRow.idempotency_key == key)
            return session.scalars(query).first()

    def get(self, job_id: str) -> Job | None:
        with self._session() as session:
            row = session.get(JobRow, job_id)
            return Job.of(row) if row is not None else None

    def list(
        self,
        *,
        status: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """Newest first, and the total matching."""
        if status is not None and status not in STATES:
            raise StoreError(f"unknown status {status!r}; one of {', '.join(STATES)}")
        with self._session() as session:
            query = select(JobRow)
            if status is not None:
                query = query.where(JobRow.status == status)
            if owner is not None:
                query = query.where(JobRow.owner == owner)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(JobRow.created_at.desc()).limit(limit).offset(offset)
            ).all()
            return [Job.of(row) for row in rows], int(total)

    def queue_position(self, job_id: str) -> int | None:
        """How many queued jobs are ahead of this one (None when it is not queued)."""
        with self._session() as session:
            row = session.get(JobRow, job_id)
            if row is None or row.status != QUEUED:
                return None
            ahead = select(func.count()).where(
                JobRow.status == QUEUED, JobRow.created_at < row.created_at
            )
            return int(session.scalar(ahead) or 0)

    def unfinished(self, owner: str) -> int:
        """Queued and running jobs of ``owner`` (for the per-key cap)."""
        with self._session() as session:
            query = select(func.count()).where(
                JobRow.owner == owner, JobRow.status.in_((QUEUED, RUNNING))
            )
            return int(session.scalar(query) or 0)

    def counts(self) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
            found = {status: int(count) for status, count in rows}
        return {state: found.get(state, 0) for state in STATES}

    # -- workers -----------------------------------------------------------------------------

    def claim(self, worker: str, lease_seconds: float = 60.0) -> Job | None:
        """The oldest queued job, now running under ``worker``'s lease; None when none."""
        for _ in range(10):  # another worker may win the race for a candidate: try the next
            with self._session.begin() as session:
                candidate = session.scalar(
                    select(JobRow.id)
                    .where(JobRow.status == QUEUED)
                    .order_by(JobRow.created_at, JobRow.id)
                    .limit(1)
                )
                if candidate is None:
                    return None
                now = _now()
                won = session.execute(
                    update(JobRow)
                    .where(JobRow.id == candidate, JobRow.status == QUEUED)
                    .values(**_claimed(worker, now, lease_seconds))
                ).rowcount
            if won:
                return self.get(candidate)
        return None

    def heartbeat(
        self,
        job_id: str,
        worker: str,
        *,
        stage: str | None = None,
        progress: float | None = None,
        lease_seconds: float = 60.0,
    ) -> bool:
        """Record progress and extend the lease. False tells the worker to stop: a cancel
        was asked for, or the job is no longer its own (its lease ran out)."""
        now = _now()
        values: dict[str, Any] = {
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "updated_at": now,
        }
        if stage is not None:
            values["stage"] = stage
        if progress is not None:
            values["progress"] = min(max(float(progress), 0.0), 1.0)
        with self._session.begin() as session:
            owned = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.worker == worker, JobRow.status == RUNNING)
                .values(**values)
            ).rowcount
            if not owned:
                return False
            return not session.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id))

    def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Move a running job of ``worker``'s to a final state; False if it was not theirs
        to finish (re-queued after a lost lease, or already final)."""
        if status not in FINAL_STATES:
            raise StoreError(f"finish needs a final state, not {status!r}")
        now = _now()
        with self._session.begin() as session:
            return bool(
                session.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.worker == worker, JobRow.status == RUNNING)
                    .values(
                        status=status,
                        result=result,
                        error=error,
                        progress=1.0 if status == SUCCEEDED else JobRow.progress,
                        finished_at=now,
                        updated_at=now,
                        lease_expires_at=None,
                    )
                ).rowcount
            )

    def fail_queued(self, job_id: str, error: str) -> bool:
        """Fail a job no worker has taken (it could not be sent to any)."""
        now = _now()
        with self._session.begin() as session:
            return bool(
                session.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == QUEUED)
                    .values(status=FAILED, error=error, finished_at=now, updated_at=now)
                ).rowcount
            )

    def request_cancel(self, job_id: str) -> Job:
        """Cancel: a queued job is canceled at once; a running one is flagged, and its worker
        stops at its next step; a final job stays as it is."""
        now = _now()
        with self._session.begin() as session:
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == QUEUED)
                .values(status=CANCELED, finished_at=now, updated_at=now)
            )
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == RUNNING)
                .values(cancel_requested=True, updated_at=now)
            )
        job = self.get(job_id)
        if job is None:
            raise StoreError(f"no job {job_id}")
        return job

    def requeue_expired(self) -> tuple[list[str], int]:
        """Jobs whose worker stopped renewing its lease: re-queued while attempts remain,
        failed after the last. Returns (the re-queued jobs' ids, how many failed); the
        distributed queue sends the re-queued ones to its workers again."""
        now = _now()
        expired = (JobRow.status == RUNNING, JobRow.lease_expires_at < now)
        with self._session.begin() as session:
            # A cancel asked for while its worker was dying: honoured, not re-run.
            session.execute(
                update(JobRow)
                .where(*expired, JobRow.cancel_requested.is_(True))
                .values(status=CANCELED, finished_at=now, updated_at=now, lease_expires_at=None)
            )
            failed = session.execute(
                update(JobRow)
                .where(*expired, JobRow.attempts >= JobRow.max_attempts)
                .values(
                    status=FAILED,
                    error="the worker running this job stopped responding on every attempt",
                    finished_at=now,
                    updated_at=now,
                    lease_expires_at=None,
                )
            ).rowcount
            candidates = session.scalars(
                select(JobRow.id)
                .where(*expired, JobRow.attempts < JobRow.max_attempts)
                .with_for_update(skip_locked=True)
            ).all()
            requeued = []
            for job_id in candidates:  # conditional: a job another sweeper took stays taken
                if session.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, *expired)
                    .values(status=QUEUED, worker=None, lease_expires_at=None, updated_at=now)
                ).rowcount:
                    requeued.append(job_id)
        return requeued, int(failed)

    def claim_job(self, job_id: str, worker: str, lease_seconds: float = 60.0) -> Job | None:
        """Claim one named job (the distributed queue's message names it): a queued job, or
        a running one whose worker's lease ran out (that worker is gone). None when the job
        is not there to take: unknown, final, or running under a live lease."""
        now = _now()
        takeable = (JobRow.status == QUEUED) | (
            (JobRow.status == RUNNING)
            & (JobRow.lease_expires_at < now)
            & (JobRow.attempts < JobRow.max_attempts)
        )
        with self._session.begin() as session:
            won = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, takeable)
                .values(**_claimed(worker, now, lease_seconds))
            ).rowcount
        return self.get(job_id) if won else None

    def session(self) -> Session:
        """A raw session, for tests and maintenance."""
        return self._session()
