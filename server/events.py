"""``GET /jobs/{id}/events``: a job's progress as server-sent events, until it ends.

Each event is ``event: job`` with the job's JSON (as ``GET /jobs/{id}``) and an id naming
the state it shows (``status:stage:progress``). The stream polls the store, so it works the
same whichever process or machine runs the job. A reconnecting client sends the last id it
saw (``Last-Event-ID``): a state it has already seen is not sent again, and once it has seen
the final state the answer is 204, which tells ``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.sse import format_sse_event
from starlette.concurrency import run_in_threadpool

from server.store import Job, JobStore

RETRY_MS = 2000
KEEPALIVE_SECONDS = 15.0


def event_id(job: Job) -> str:
    return f"{job.status}:{job.stage or '-'}:{job.progress:.3f}"


async def job_events(
    store: JobStore,
    job_id: str,
    render: Callable[[Job], Any],
    *,
    last_event_id: str | None = None,
    poll_seconds: float = 0.1,
) -> AsyncIterator[bytes]:
    """The event stream of one job; ``render`` turns a job into its public view."""
    seen, retry, idle = last_event_id, RETRY_MS, 0.0
    while True:
        job = await run_in_threadpool(store.get, job_id)
        if job is None:  # deleted under us
            return
        current = event_id(job)
        if current != seen:
            view = await run_in_threadpool(render, job)
            yield format_sse_event(
                data_str=view.model_dump_json(), event="job", id=current, retry=retry
            )
            seen, retry, idle = current, None, 0.0
        if job.final:
            return
        await asyncio.sleep(poll_seconds)
        idle += poll_seconds
        if idle >= KEEPALIVE_SECONDS:  # proxies close connections that stay silent
            yield b": keep-alive\n\n"
            idle = 0.0
