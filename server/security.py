"""Who is calling: API keys.

Keys are checked against the hashes in ``Settings.api_keys`` in constant time. A request
names its key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Without configured
keys the service is open and every job belongs to ``anonymous``; with keys, each key sees
only its own jobs.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from gen3d.apikeys import hash_api_key, key_owner
from server.problems import Problem

ANONYMOUS = "anonymous"


class Authenticator:
    def __init__(self, key_hashes: list[str]) -> None:
        self.key_hashes = [item.lower() for item in key_hashes]

    @property
    def enabled(self) -> bool:
        return bool(self.key_hashes)

    def owner(self, request: Request) -> str:
        """The caller's owner name; raises 401 when a key is needed and missing or unknown."""
        if not self.enabled:
            return ANONYMOUS
        key = _presented_key(request)
        if key is None:
            raise _unauthorized("this service needs an API key: Authorization: Bearer <key>")
        presented = hash_api_key(key)
        # compare_digest on every hash: the time taken does not tell which prefix matched
        matches = [hmac.compare_digest(presented, known) for known in self.key_hashes]
        if not any(matches):
            raise _unauthorized("the API key is not known to this service")
        return key_owner(presented)


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
