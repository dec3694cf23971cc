"""Schemathesis: generated requests (valid and not) against the app's own OpenAPI document
find no 5xx, no undocumented status, and no response that breaks its schema."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from gen3d.settings import Settings
from server.app import create_app

# Built at import: schemathesis parametrizes from the schema at collection time (its lazy
# fixture loader does not run on this pytest). No worker: submitted jobs stay queued, which
# is all the API itself does. The folder goes with the process.
_DATA = tempfile.TemporaryDirectory(prefix="gen3d-openapi-")
_APP = create_app(Settings(data_dir=Path(_DATA.name)), start_worker=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case) -> None:
    _independent_idempotency_key(case)
    excluded = []
    if case.media_type == "multipart/form-data":
        # Whether bytes are a usable image (decodable, 8x8 or more, showing an object) is
        # beyond what a schema can say: generated "valid" uploads are rightly refused.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)


def _independent_idempotency_key(case) -> None:
    """Examples stand for independent clients, but they share one app: two drawing the same
    Idempotency-Key (e.g. "null") for different bodies get a correct 422 for the reuse. Each
    example's key is made unique, at least 32 characters and otherwise of the drawn length, so
    that a key over the 255-character limit stays over it."""
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key":
            length = max(len(str(case.headers[name])), 32)
            case.headers[name] = (uuid.uuid4().hex * (length // 32 + 1))[:length]
