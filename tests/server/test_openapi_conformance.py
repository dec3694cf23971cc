"""Schemathesis: generated requests (valid and not) against the app's own OpenAPI document
find no 5xx, no undocumented status, and no response that breaks its schema."""

from __future__ import annotations

import copy
import tempfile
import uuid
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from gen3d.settings import Settings
from server.app import create_app

# Built at import: schemathesis parametrizes from the schema at collection time (its lazy
# fixture loader does not run on this pytest). No worker: submitted jobs stay queued, which
# is all the API itself does. The folder goes with the process. No rate or queue limit: with
# them, most generated submissions got 429 and never reached validation.
_DATA = tempfile.TemporaryDirectory(prefix="gen3d-openapi-")
_APP = create_app(
    Settings(data_dir=Path(_DATA.name), rate_limit_per_minute=0, max_queued_per_key=10**9),
    start_worker=False,
)
_FORM = "multipart/form-data"


def _schema_where_generate_takes(media_type: str) -> schemathesis.BaseSchema:
    """The app's document with only one of POST /generate's two bodies (JSON or form)."""
    document = copy.deepcopy(_APP.openapi())
    bodies = document["paths"]["/generate"]["post"]["requestBody"]["content"]
    for other in set(bodies) - {media_type}:
        del bodies[other]
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = _APP
    return loaded


# Every operation, valid and invalid requests; POST /generate with its JSON body.
schema = _schema_where_generate_takes("application/json")
# POST /generate's multipart form, valid requests only: schemathesis 4.32.5 itself crashes,
# now and then, while drawing an invalid form (`ValueError: Unsupported type: 'Binary'`:
# jsonschema-rs cannot read a file value; no request is sent), and a seeded rerun meets the
# same crash. Bad forms are tested by hand in test_api_features.py (bad images and meshes,
# options out of range, both or neither of image and prompt, texture_size 1-63).
form_schema = _schema_where_generate_takes(_FORM).include(method="POST", path="/generate")
form_schema.config.generation.update(modes=[GenerationMode.POSITIVE])

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@_SETTINGS
def test_every_operation_conforms(case) -> None:
    _call_and_validate(case)


@form_schema.parametrize()
@_SETTINGS
def test_valid_generate_forms_conform(case) -> None:
    _call_and_validate(case)


def _call_and_validate(case) -> None:
    _independent_idempotency_key(case)
    excluded = []
    if case.media_type == _FORM:
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
