"""Asset libraries built by a running gen3d service (``gen3d batch ... --server URL``).

The items go to the service as jobs (so to its distributed workers, when it has them); this
process only submits, follows and downloads, with the same manifest, resumability and
gallery as a local run. Each submission carries an ``Idempotency-Key`` derived from the item
and its attempt, and the manifest keeps each item's job id as soon as the service accepts it:
a re-run after an interruption follows the jobs it already started instead of starting them
again, and a re-run after a failure submits a fresh attempt.

Example::

    from gen3d.batch import Library, read_items
    from gen3d.remote import ServiceClient, run_library_remote

    library = Library("library")
    library.open(read_items("prompts.txt"), "prompts.txt")
    with ServiceClient("http://gpu-box:8000", api_key=None) as client:
        run_library_remote(client, library)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gen3d.batch import BatchItem, Library, store_input_thumbnail
from gen3d.errors import Gen3DError

FINAL = ("succeeded", "failed", "canceled")
#: jobs submitted and not yet finished at any time: enough to keep a service's workers busy,
#: below its default cap on unfinished jobs per key
MAX_IN_FLIGHT = 64


class ServiceError(Gen3DError):
    """The service cannot be reached or keeps failing (the run stops; re-run to resume)."""


class JobRejected(Gen3DError):
    """The service refused one item (its options, say): that item fails, the rest go on."""


class ServiceClient:
    """A small client of the gen3d service API: retries what is worth retrying (connection
    errors, 5xx, 429 after its Retry-After), and says what the service said otherwise."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ServiceError(f"--server must be an http(s) URL, not {url!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )
        self.retries, self.sleep = retries, sleep

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, retries: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        retries = self.retries if retries is None else retries
        delay = 1.0
        for attempt in range(retries + 1):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                problem = f"cannot reach {self.url} ({type(error).__name__}: {error})"
            else:
                if response.status_code == 429:
                    wait = float(response.headers.get("retry-after", delay))
                    self.sleep(min(wait, 60.0))
                    continue  # the service asked us to wait, not to give up
                if response.status_code < 500:
                    return response
                problem = f"{self.url} answered {response.status_code}: {_detail(response)}"
            if attempt == retries:
                raise ServiceError(problem)
            self.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise ServiceError(f"{self.url} kept answering 429 (too many requests)")

    def check(self) -> None:
        """Fail early, with the service's own words, when it cannot take jobs."""
        response = self.request("GET", "/readyz", retries=1)  # a wrong URL fails fast
        if response.status_code != 200:
            raise ServiceError(f"{self.url} is not ready: {_detail(response)}")

    def submit(
        self,
        body: dict[str, Any],
        key: str,
        image: Path | None = None,
        mesh: Path | None = None,
    ) -> dict[str, Any]:
        """Queue a job: JSON for a prompt; multipart, the options as form fields, with an
        ``image`` file and/or a ``mesh`` file."""
        headers = {"Idempotency-Key": key}
        if image is None and mesh is None:
            response = self.request("POST", "/generate", json=body, headers=headers)
        else:
            files = {}
            for name, path in (("image", image), ("mesh", mesh)):
                if path is None:
                    continue
                try:
                    data = path.read_bytes()
                except OSError as error:
                    raise JobRejected(f"cannot read {path} ({error.strerror})") from None
                files[name] = (path.name, data, _media_type(path))
            fields = {
                name: str(value).lower() if isinstance(value, bool) else str(value)
                for name, value in body.items()
            }
            response = self.request("POST", "/generate", data=fields, files=files, headers=headers)
        if response.status_code == 401:
            raise ServiceError(f"{self.url}: {_detail(response)} (pass --api-key)")
        if response.status_code != 202:
            raise JobRejected(_detail(response))
        return response.json()

    def job(self, job_id: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/jobs/{job_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceError(f"GET /jobs/{job_id}: {_detail(response)}")
        return response.json()

    def download(self, link: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with self.http.stream("GET", link) as response:
            if response.status_code != 200:
                raise ServiceError(f"GET {link}: {response.status_code}")
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        os.replace(partial, target)  # a crash never leaves a half file under the real name


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.text)
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase


def _media_type(path: Path) -> str:
    types = {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".webp": "image/webp",
        ".heic": "image/heic",
        ".heif": "image/heif",
        ".glb": "model/gltf-binary",
    }
    return types.get(path.suffix.lower(), "application/octet-stream")


def request_body(item: BatchItem, asset_format: str) -> dict[str, Any]:
    """The job request of an item: a prompt item's JSON body, or an image item's form
    fields (its file goes beside them)."""
    source = {"prompt": item.prompt} if item.image is None else {}
    options = dict(item.options)
    if "keep_uvs" in options:  # the form asks the other way round
        options["new_uvs"] = not options.pop("keep_uvs")
    return {**source, "seed": item.seed, **options, "format": asset_format}


def idempotency_key(item: BatchItem, body: dict[str, Any]) -> str:
    """The same item, request, image and attempt give the same key: a resubmission after an
    interruption finds its job; a new attempt after a failure gets a new one."""
    request = {**body, "image_sha256": item.image_sha256}
    if item.mesh_sha256 is not None:  # (absent otherwise: older libraries keep their keys)
        request["mesh_sha256"] = item.mesh_sha256
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
    return f"gen3d-batch:{item.id}:{digest}:{item.attempt}"


def run_library_remote(
    client: ServiceClient,
    library: Library,
    *,
    suffix: str = ".glb",
    thumbnails: bool = True,
    on_item: Callable[[BatchItem], None] | None = None,
    poll_seconds: float = 1.0,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> None:
    """Generate every pending item of ``library`` on the service, recording each as it
    lands; items already submitted by an interrupted run are followed, not resubmitted."""
    asset_format = suffix.lstrip(".")
    waiting = list(library.todo())
    in_flight: dict[str, BatchItem] = {}  # job id -> item

    def finish(item: BatchItem) -> None:
        library.save()
        if on_item is not None:
            on_item(item)

    while waiting or in_flight:
        while waiting and len(in_flight) < max_in_flight:
            item = waiting.pop(0)
            if item.job is None:
                body = request_body(item, asset_format)
                try:
                    image = Path(item.image) if item.image is not None else None
                    mesh = Path(item.mesh) if item.mesh is not None else None
                    job = client.submit(body, idempotency_key(item, body), image, mesh)
                except JobRejected as error:
                    item.status, item.error = "failed", str(error)
                    finish(item)
                    continue
                item.job = job["id"]
            item.status, item.error = "running", None
            library.save()  # the job id is on disk before we wait for it
            in_flight[item.job] = item
        for job_id, item in list(in_flight.items()):
            job = client.job(job_id)
            if job is None:  # the service lost it (a wiped store): submit it again
                item.job, item.attempt = None, item.attempt + 1
                waiting.append(in_flight.pop(job_id))
                continue
            if job["status"] not in FINAL:
                continue
            del in_flight[job_id]
            if job["status"] == "succeeded":
                _store(client, library, item, job, thumbnails)
            else:
                item.status, item.error = "failed", job.get("error") or job["status"]
            finish(item)
        if in_flight:
            time.sleep(poll_seconds)


def _store(
    client: ServiceClient, library: Library, item: BatchItem, job: dict[str, Any], thumbnails: bool
) -> None:
    """Download a finished job's files into the library: a single-file asset as
    ``assets/<id>.<ext>`` (as a local run names it), a multi-file one (OBJ with its
    material and texture) in ``assets/<id>/`` under the service's names, which the files
    refer to each other by."""
    links, files = job["links"], job["result"]["files"]
    models = [name for name in files if name != "preview.png"]
    if len(models) == 1:
        targets = {models[0]: f"assets/{item.id}{Path(models[0]).suffix}"}
    else:
        targets = {name: f"assets/{item.id}/{name}" for name in models}
    main = next(name for name in models if name.startswith("asset."))
    for name, relative in targets.items():
        client.download(links[name], library.root / relative)
    item.files = [targets[main]] + [targets[name] for name in models if name != main]
    if thumbnails and "preview.png" in files:
        thumbnail = f"thumbnails/{item.id}.png"
        client.download(links["preview.png"], library.root / thumbnail)
        item.thumbnail = thumbnail
        store_input_thumbnail(library, item)
    item.timings = dict(job["result"].get("timings", {}))
    item.status, item.error = "succeeded", None
