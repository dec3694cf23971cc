"""API keys and the submission rate limit, on their own."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from gen3d.apikeys import hash_api_key, key_owner, new_api_key
from server.limits import RateLimiter
from server.problems import Problem
from server.security import ANONYMOUS, Authenticator


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "headers": raw, "method": "GET", "path": "/"})


def test_keys_are_random_and_hashed() -> None:
    first, second = new_api_key(), new_api_key()
    assert first != second and len(first) > 40
    assert hash_api_key(first) == hash_api_key(first) != hash_api_key(second)
    assert first not in hash_api_key(first)


def test_authenticator_accepts_known_keys_in_either_header() -> None:
    key = new_api_key()
    auth = Authenticator([hash_api_key(new_api_key()), hash_api_key(key)])
    owner = key_owner(hash_api_key(key))
    assert auth.owner(_request({"Authorization": f"Bearer {key}"})) == owner
    assert auth.owner(_request({"X-API-Key": key})) == owner
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {key}"}):
        with pytest.raises(Problem) as raised:
            auth.owner(_request(headers))
        assert raised.value.status == 401 and raised.value.headers["WWW-Authenticate"] == "Bearer"


def test_without_keys_everyone_is_anonymous() -> None:
    assert Authenticator([]).owner(_request({"Authorization": "Bearer anything"})) == ANONYMOUS


def test_rate_limit_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(Problem) as raised:
        limiter.take("a")
    assert raised.value.status == 429 and raised.value.headers["Retry-After"] == "1"
    limiter.take("b")  # buckets are per name
    now[0] = 1.0  # one token back after a second at 60/min
    limiter.take("a")
    with pytest.raises(Problem):
        limiter.take("a")


def test_rate_limit_zero_is_off() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    for _ in range(100):
        limiter.take("a")
