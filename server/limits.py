"""How much a caller may send: the request body limit and the submission rate limit.

The body limit refuses a request whose ``Content-Length`` is over it before reading a byte,
and one that streams more than it (chunked uploads) as soon as it does; both answer 413
problem details.

The rate limit is a token bucket per key (per client address when the service is open):
``burst`` submissions at once, refilled at ``per_minute``. It lives in the process: with
several API processes each enforces it on its own share of the traffic.
"""

from __future__ import annotations

import math
import threading
import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.problems import Problem, problem_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, detail: str) -> None:
        self.app, self.max_bytes, self.detail = app, max_bytes, detail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(413, "payload_too_large", self.detail)
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: the app's handler answers it as problem details.
                    raise HTTPException(413, self.detail)
            return message

        await self.app(scope, counted_receive, send)


class RateLimiter:
    """Token buckets by name; ``per_minute`` 0 switches the limit off."""

    def __init__(self, per_minute: float, burst: int, clock=time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, name: str) -> None:
        """Spend one token of ``name``'s bucket; raises 429 with Retry-After when empty."""
        if self.rate <= 0:
            return
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[name] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise Problem(
                    429,
                    "rate_limited",
                    f"too many submissions; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self._buckets[name] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:  # forget full buckets: memory stays bounded
                self._buckets = {
                    name: (tokens, at)
                    for name, (tokens, at) in self._buckets.items()
                    if tokens + (now - at) * self.rate < self.burst
                }
