"""Asset libraries from prompt files: read items, generate in DiT batches, keep a manifest.

Input files:

- ``.txt``: one prompt per line (blank lines and lines starting with ``#`` are skipped);
- ``.csv``: a header with ``prompt`` and optionally ``seed`` and any generation option
  (``steps``, ``guidance``, ``resolution``, ``face_count``, ``texture_size``);
- ``.jsonl``: one object per line with the same keys.

Each item gets a stable id (its line number and a slug of the prompt) and a seed (its own,
or one derived from the id), so a re-run reproduces the same assets. ``manifest.json`` in the
library records every item's prompt, seed, options, status, files, timings and error, and is
rewritten atomically after every item: re-running the same command skips finished items and
redoes interrupted or failed ones. Items with the same options are sampled together in DiT
batches of up to ``batch_size``; an item that fails is recorded and the rest go on.
"""

from __future__ import annotations

import csv
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gen3d.errors import Gen3DError
from gen3d.pipeline import OPTION_RANGES

MANIFEST = "manifest.json"
INPUT_SUFFIXES = (".txt", ".csv", ".jsonl")
MAX_ITEMS = 100_000


class BatchError(Gen3DError):
    """A prompt file or library that cannot be used as a whole (unreadable, bad columns)."""


@dataclass
class BatchItem:
    id: str
    prompt: str
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"  # pending | running | succeeded | failed
    files: list[str] = field(default_factory=list)  # relative to the library
    thumbnail: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    job: str | None = None  # the service's job id (``--server`` runs)
    attempt: int = 0  # how many earlier runs failed this item

    def group_key(self) -> str:
        """Items with equal keys can share a DiT batch."""
        return json.dumps(self.options, sort_keys=True)


def _slug(text: str, length: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:length].rstrip("-") or "item"


def _number(value: Any, name: str, where: str) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"{where}: {name} must be a number, not {value!r}")
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{where}: {name} must be a number, not {value!r}") from None
    return int(number) if number.is_integer() and name != "guidance" else number


def _make_item(index: int, record: dict[str, Any], where: str) -> BatchItem:
    """One item from a parsed record; raises ValueError naming the line on bad values."""
    prompt = str(record.get("prompt") or "").strip()
    if not prompt:
        raise ValueError(f"{where}: the prompt is empty")
    item_id = f"{index:05d}-{_slug(prompt)}"
    seed_value = record.get("seed")
    if seed_value in (None, ""):
        seed = zlib.crc32(item_id.encode()) % 2**31  # stable across re-runs
    else:
        seed = _number(seed_value, "seed", where)
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"{where}: seed must be a non-negative integer, not {seed_value!r}")
    options = {
        name: _number(record[name], name, where)
        for name in OPTION_RANGES
        if record.get(name) not in (None, "")
    }
    return BatchItem(id=item_id, prompt=prompt, seed=seed, options=options)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, record or None on a bad line, error) for every item line of the file."""
    suffix = path.suffix.lower()
    known = {"prompt", "seed", *OPTION_RANGES}
    text = path.read_text(encoding="utf-8-sig")
    if suffix == ".txt":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield number, {"prompt": line}, ""
    elif suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        columns = set(reader.fieldnames or [])
        if "prompt" not in columns:
            raise BatchError(f"{path}: a CSV needs a 'prompt' column (found {sorted(columns)})")
        unknown = sorted(columns - known)
        if unknown:
            raise BatchError(f"{path}: unknown columns {unknown}; known: {sorted(known)}")
        for number, row in enumerate(reader, start=2):
            yield number, row, ""
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, None, f"line {number}: not JSON ({error.msg})"
                continue
            if not isinstance(record, dict):
                yield number, None, f"line {number}: expected a JSON object"
                continue
            unknown = sorted(set(record) - known)
            if unknown:
                yield number, None, f"line {number}: unknown keys {unknown}"
                continue
            yield number, record, ""


def read_items(path: str | Path) -> list[BatchItem]:
    """Every item of a prompt file. A bad line becomes a failed item (with the reason), so
    one typo does not stop a library; a bad file raises ``BatchError``."""
    path = Path(path)
    if path.suffix.lower() not in INPUT_SUFFIXES:
        raise BatchError(f"{path}: prompt files are {', '.join(INPUT_SUFFIXES)}")
    if not path.is_file():
        raise BatchError(f"{path}: no such file")
    try:
        records = list(_records(path))
    except UnicodeDecodeError:
        raise BatchError(f"{path}: not UTF-8 text") from None
    if len(records) > MAX_ITEMS:
        raise BatchError(f"{path}: {len(records):,} items, over the limit of {MAX_ITEMS:,}")
    items = []
    for number, record, error in records:
        where = f"line {number}"
        try:
            if record is None:
                raise ValueError(error)
            items.append(_make_item(number, record, where))
        except ValueError as bad:
            text = str((record or {}).get("prompt") or "")
            items.append(
                BatchItem(
                    id=f"{number:05d}-{_slug(text)}",
                    prompt=text,
                    seed=0,
                    status="failed",
                    error=str(bad),
                )
            )
    if not items:
        raise BatchError(f"{path}: no prompts found")
    return items


class Library:
    """A library folder: ``manifest.json``, ``assets/``, ``thumbnails/``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.manifest_path = self.root / MANIFEST
        self.items: dict[str, BatchItem] = {}
        self.source: str | None = None

    def open(self, items: list[BatchItem], source: str) -> None:
        """Merge ``items`` with what a previous run recorded: finished items whose files are
        still there stay finished; everything else (interrupted, failed) is redone."""
        try:
            (self.root / "assets").mkdir(parents=True, exist_ok=True)
            (self.root / "thumbnails").mkdir(exist_ok=True)
        except OSError as error:
            raise BatchError(f"{self.root}: cannot create the library ({error})") from None
        previous: dict[str, dict[str, Any]] = {}
        if self.manifest_path.is_file():
            try:
                data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
                previous = {entry["id"]: entry for entry in data.get("items", [])}
            except (json.JSONDecodeError, KeyError, TypeError):
                raise BatchError(f"{self.manifest_path}: not a gen3d manifest") from None
        self.source = source
        self.items = {}
        for item in items:
            old = previous.get(item.id)
            same = old is not None and old.get("prompt") == item.prompt
            same = same and old.get("seed") == item.seed and old.get("options") == item.options
            if same and old.get("status") == "succeeded" and self._files_exist(old):
                item = BatchItem(**old)
            elif same and old.get("status") == "running" and old.get("job"):
                item.job = old["job"]  # interrupted while its service job ran: follow it
                item.attempt = old.get("attempt", 0)
            elif same and old.get("status") == "failed":
                item.attempt = old.get("attempt", 0) + 1
            self.items[item.id] = item
        self.save()

    def _files_exist(self, entry: dict[str, Any]) -> bool:
        return bool(entry.get("files")) and all((self.root / f).is_file() for f in entry["files"])

    def todo(self) -> list[BatchItem]:
        return [item for item in self.items.values() if item.status in ("pending", "running")]

    def save(self) -> None:
        """Write the manifest atomically: a crash never leaves half a file."""
        data = {
            "version": 1,
            "source": self.source,
            "items": [asdict(item) for item in self.items.values()],
        }
        temporary = self.manifest_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.manifest_path)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items.values():
            counts[item.status] = counts.get(item.status, 0) + 1
        return counts


def batches(items: list[BatchItem], batch_size: int) -> list[list[BatchItem]]:
    """Items with the same options, in groups of at most ``batch_size``, in file order."""
    groups: dict[str, list[BatchItem]] = {}
    for item in items:
        groups.setdefault(item.group_key(), []).append(item)
    out = []
    for group in groups.values():
        out += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    return sorted(out, key=lambda chunk: chunk[0].id)


def run_library(
    pipe: Any,
    library: Library,
    *,
    batch_size: int = 4,
    suffix: str = ".glb",
    thumbnails: bool = True,
    on_item: Callable[[BatchItem], None] | None = None,
) -> None:
    """Generate every pending item into ``library``, recording each result as it lands.

    A batch that fails is retried one item at a time, so that one bad item fails alone.
    """
    if batch_size < 1:
        raise BatchError(f"batch_size must be >= 1, not {batch_size}")
    for chunk in batches(library.todo(), batch_size):
        for item in chunk:
            item.status, item.error = "running", None
        library.save()
        try:
            results = _generate(pipe, chunk)
        except Gen3DError:
            results = []
            for item in chunk:
                try:
                    results += _generate(pipe, [item])
                except Gen3DError as error:
                    results.append(error)
        for item, result in zip(chunk, results, strict=True):
            if isinstance(result, Exception):
                item.status, item.error = "failed", str(result)
            else:
                _store(library, item, result, suffix, thumbnails)
            library.save()
            if on_item is not None:
                on_item(item)


def _generate(pipe: Any, chunk: list[BatchItem]) -> list[Any]:
    options = chunk[0].options
    assets = pipe(prompt=[i.prompt for i in chunk], seed=[i.seed for i in chunk], **options)
    return list(assets)


def _store(library: Library, item: BatchItem, asset: Any, suffix: str, thumbnails: bool) -> None:
    try:
        written = asset.save(library.root / "assets" / f"{item.id}{suffix}")
        item.files = [str(path.relative_to(library.root)) for path in written]
        if thumbnails:
            thumbnail = library.root / "thumbnails" / f"{item.id}.png"
            asset.preview(thumbnail, views=1, resolution=256)
            item.thumbnail = str(thumbnail.relative_to(library.root))
        item.timings = {stage: round(seconds, 3) for stage, seconds in asset.timings.items()}
        item.status = "succeeded"
    except Gen3DError as error:
        item.status, item.error = "failed", str(error)
