"""Asset libraries from prompt files or image folders: read items, generate in DiT batches,
keep a manifest.

Inputs:

- ``.txt``: one prompt per line (blank lines and lines starting with ``#`` are skipped);
- ``.csv``: a header with ``prompt`` or ``image`` (a path, relative to the file's folder) and
  optionally ``seed`` and any generation option (``steps``, ``guidance``, ``resolution``,
  ``face_count``, ``texture_size``, ``refine_steps``); each row has a prompt or an image.
  A ``mesh`` column (a path too) starts that row from a mesh, with ``strength``,
  ``keep_geometry`` (true: paint the mesh in place, as ``gen3d texture``), ``keep_uvs``
  (false: new UVs) and ``up``; an image row with ``refine_steps`` may say the ``view`` its
  image was taken from (``auto``, ``reference`` or ``AZIMUTH,ELEVATION[,ROLL]``; see
  ``gen3d.image_view``), and ``symmetry`` false to keep its refined colours to the photo's
  side (``render.symmetry``);
- ``.jsonl``: one object per line with the same keys;
- a folder: an image-to-3D item per ``.png``, ``.jpg``, ``.jpeg``, ``.webp``, ``.heic`` or
  ``.heif`` in it, in name order.

Options given for the whole run (``defaults``) apply where an item sets none of its own.
Each item gets a stable id (its line number and a slug of the prompt or image name) and a
seed (its own, or one derived from the id), so a re-run reproduces the same assets; an image
or mesh item also records its file's SHA-256, so a re-run redoes an item whose file changed.
``manifest.json`` in the library records every item's prompt or image, seed, options, status,
files, timings and error, and is rewritten atomically after every item: re-running the same
command skips finished items and redoes interrupted or failed ones. Items of one kind (prompt
or image) with the same options are sampled together in DiT batches of up to ``batch_size``;
an item that fails is recorded and the rest go on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gen3d.data.meshes import SUPPORTED_SUFFIXES as MESH_SUFFIXES
from gen3d.errors import IMAGE_DECODE_ERRORS, Gen3DError, unknown_names
from gen3d.pipeline import OPTION_RANGES, GenerationOptions, PipelineError
from gen3d.shape_input import UP_AXES

MANIFEST = "manifest.json"
INPUT_SUFFIXES = (".txt", ".csv", ".jsonl")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".heic", ".heif")
MAX_ITEMS = 100_000
#: options that only an image input takes (a run-wide default skips prompt items)
IMAGE_ONLY_OPTIONS = ("refine_steps",)
#: what a row may say about its starting mesh (``Pipeline.__call__``'s own arguments)
MESH_OPTIONS = ("strength", "keep_geometry", "up", "keep_uvs")


class BatchError(Gen3DError):
    """A prompt file or library that cannot be used as a whole (unreadable, bad columns)."""


@dataclass
class BatchItem:
    id: str
    prompt: str  # empty for an image item
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    image: str | None = None  # an image item's file (absolute path)
    image_sha256: str | None = None  # its content when read, so a changed image is redone
    input_thumbnail: str | None = None  # the input image, small, for the gallery
    mesh: str | None = None  # the mesh it starts from or paints (absolute path)
    mesh_sha256: str | None = None  # its content when read, so a changed mesh is redone
    status: str = "pending"  # pending | running | succeeded | failed
    files: list[str] = field(default_factory=list)  # relative to the library
    thumbnail: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    job: str | None = None  # the service's job id (``--server`` runs)
    attempt: int = 0  # how many earlier runs failed this item

    @property
    def title(self) -> str:
        """What the item is, for people: its prompt, or its image's file name."""
        return self.prompt or (Path(self.image).name if self.image else "")

    def group_key(self) -> str:
        """Items with equal keys can share a DiT batch (prompts and images apart; a batch
        starts from one mesh at most)."""
        return json.dumps([self.image is not None, self.mesh, self.options], sort_keys=True)


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


def _make_item(
    index: int,
    record: dict[str, Any],
    where: str,
    base: Path,
    defaults: Mapping[str, Any] | None = None,
) -> BatchItem:
    """One item from a parsed record; raises ValueError naming the line on bad values.
    ``base`` is the folder that relative image paths start from."""
    prompt = str(record.get("prompt") or "").strip()
    image_value = str(record.get("image") or "").strip()
    if prompt and image_value:
        raise ValueError(f"{where}: give a prompt or an image, not both")
    if not prompt and not image_value:
        raise ValueError(f"{where}: the prompt is empty (give a prompt or an image)")
    image = sha = None
    if image_value:
        image, sha = _read_file(image_value, base, where, "image", IMAGE_SUFFIXES)
    mesh_value = str(record.get("mesh") or "").strip()
    mesh = mesh_sha = None
    if mesh_value:
        mesh, mesh_sha = _read_file(mesh_value, base, where, "mesh", MESH_SUFFIXES)
    item_id = f"{index:05d}-{_slug(prompt or Path(image_value).stem)}"
    seed_value = record.get("seed")
    if seed_value in (None, ""):
        seed = zlib.crc32(item_id.encode()) % 2**31  # stable across re-runs
    else:
        seed = _number(seed_value, "seed", where)
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"{where}: seed must be a non-negative integer, not {seed_value!r}")
    options = {
        name: _number(value, name, where)
        for name, value in (defaults or {}).items()
        if value is not None and (image or name not in IMAGE_ONLY_OPTIONS)
    }
    options.update(
        {
            name: _number(record[name], name, where)
            for name in OPTION_RANGES
            if record.get(name) not in (None, "")
        }
    )
    if not image:
        for name in IMAGE_ONLY_OPTIONS:
            if options.get(name):
                raise ValueError(f"{where}: {name} needs an image input to refine against")
    options.update(_mesh_options(record, where, has_mesh=mesh is not None))
    view = record.get("view")
    if view not in (None, ""):
        # Without refine_steps the pipeline's default applies, and it refuses a view it will
        # not use; refine_steps 0 will not use one.
        refining = bool(image) and options.get("refine_steps") != 0
        options["view"] = _view(view, where, refining=refining)
    symmetry = record.get("symmetry")
    if symmetry not in (None, ""):
        if not image:
            raise ValueError(
                f"{where}: symmetry is how an image's refined colours reach the sides it does "
                "not show: it goes with an image"
            )
        options["symmetry"] = _boolean(symmetry, "symmetry", where)
    return BatchItem(
        id=item_id,
        prompt=prompt,
        seed=seed,
        options=options,
        image=image,
        image_sha256=sha,
        mesh=mesh,
        mesh_sha256=mesh_sha,
    )


def _mesh_options(record: dict[str, Any], where: str, *, has_mesh: bool) -> dict[str, Any]:
    """A row's ``strength`` (0-1), ``keep_geometry`` and ``keep_uvs`` (booleans) and ``up``
    (the mesh's up axis, y or z), which need a mesh."""
    options: dict[str, Any] = {}
    for name in MESH_OPTIONS:
        value = record.get(name)
        if value in (None, ""):
            continue
        if not has_mesh:
            raise ValueError(f"{where}: {name} goes with a mesh (add a 'mesh' path)")
        if name == "strength":
            strength = _number(value, name, where)
            if not 0 <= strength <= 1:
                raise ValueError(f"{where}: strength must be in 0..1, not {value!r}")
            options[name] = float(strength)
        elif name == "up":
            axis = str(value).strip().lower()
            if axis not in UP_AXES:
                raise ValueError(f"{where}: up must be {' or '.join(UP_AXES)}, not {value!r}")
            options[name] = axis
        else:
            options[name] = _boolean(value, name, where)
    return options


def _view(value: Any, where: str, *, refining: bool) -> str:
    """A row's ``view`` as checked text; it needs an image that is refined."""
    from gen3d.image_view import ViewError, parse_view, view_text

    if not refining:
        raise ValueError(
            f"{where}: view is the camera the image was taken from, for refinement: it goes "
            "with an image, and not with refine_steps 0"
        )
    try:
        return view_text(parse_view(value))
    except ViewError as error:
        raise ValueError(f"{where}: {error}") from None


def _boolean(value: Any, name: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError(f"{where}: {name} must be true or false, not {value!r}")


def _read_file(
    value: str, base: Path, where: str, kind: str, suffixes: tuple[str, ...]
) -> tuple[str, str]:
    """The absolute path and SHA-256 of an item's image or mesh; ValueError naming what is
    wrong."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    path = path.resolve()
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{where}: {kind} {value!r} is not {', '.join(suffixes)}")
    if not path.is_file():
        raise ValueError(f"{where}: {kind} {value!r} not found (looked for {path})")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise ValueError(f"{where}: cannot read {kind} {value!r} ({error.strerror})") from None
    return str(path), digest.hexdigest()


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, record or None on a bad line, error) for every item line of the file."""
    suffix = path.suffix.lower()
    known = {"prompt", "image", "mesh", "seed", "view", "symmetry", *OPTION_RANGES, *MESH_OPTIONS}
    text = path.read_text(encoding="utf-8-sig")
    if suffix == ".txt":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield number, {"prompt": line}, ""
    elif suffix == ".csv":
        lines = _NumberedLines(text)
        # strict: an unclosed quote is an error, not the rest of the file read as one field.
        reader = csv.DictReader(lines, strict=True)
        try:
            columns = set(reader.fieldnames or [])
        except csv.Error as error:
            raise BatchError(f"{path}: line 1 (the header): {error}") from None
        if not columns & {"prompt", "image"}:
            raise BatchError(
                f"{path}: a CSV needs a 'prompt' or an 'image' column (found {sorted(columns)})"
            )
        unknown = sorted(columns - known)
        if unknown:
            raise BatchError(f"{path}: {unknown_names('columns', unknown, known)}")
        yield from _csv_rows(path, reader, lines)
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
                yield number, None, f"line {number}: {unknown_names('keys', unknown, known)}"
                continue
            yield number, record, ""


class _NumberedLines:
    """A CSV's lines for csv's reader, noting where each non-blank line is, so that a row is
    named by the line it starts on (a quoted field may span lines; blank lines are skipped)."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")
        self.count = 0
        self.non_blank: list[int] = []

    def __iter__(self) -> _NumberedLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        if line.rstrip("\r\n"):
            self.non_blank.append(self.count)
        return line


def _csv_rows(
    path: Path, reader: csv.DictReader, lines: _NumberedLines
) -> Iterator[tuple[int, dict | None, str]]:
    # The header is read already (the caller checked its columns), so each line noted from
    # here on belongs to a row.
    rows = iter(reader)
    while True:
        seen = len(lines.non_blank)
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            start = lines.non_blank[seen] if len(lines.non_blank) > seen else lines.count
            raise BatchError(f"{path}: line {start}: {error} (a quote left open?)") from None
        start = lines.non_blank[seen]
        if None in row:  # DictReader's place for values beyond the header's columns
            extra = len(row[None])
            yield start, None, f"line {start}: {extra} more value(s) than the header has columns"
            continue
        yield start, row, ""


def _image_folder_records(folder: Path) -> list[tuple[int, dict[str, Any] | None, str]]:
    images = sorted(
        entry
        for entry in folder.iterdir()
        if entry.suffix.lower() in IMAGE_SUFFIXES
        and not entry.name.startswith(".")
        and entry.is_file()
    )
    if not images:
        raise BatchError(f"{folder}: no images in the folder ({', '.join(IMAGE_SUFFIXES)})")
    return [(number, {"image": entry.name}, "") for number, entry in enumerate(images, 1)]


def _check_defaults(defaults: Mapping[str, Any]) -> None:
    """Run-wide options are checked once, up front (by the pipeline's own rules): a bad one
    would fail every item."""
    unknown = sorted(set(defaults) - set(OPTION_RANGES))
    if unknown:
        raise BatchError(unknown_names("options", unknown, OPTION_RANGES))
    try:
        GenerationOptions(**defaults)
    except PipelineError as error:
        raise BatchError(str(error)) from None


def read_items(path: str | Path, defaults: Mapping[str, Any] | None = None) -> list[BatchItem]:
    """Every item of a prompt file or image folder. A bad line becomes a failed item (with
    the reason), so one typo does not stop a library; a bad input raises ``BatchError``.

    ``defaults``: options for items that do not set them (``refine_steps`` for images only).
    """
    path = Path(path)
    _check_defaults(defaults or {})
    if path.is_dir():
        records, base, where = _image_folder_records(path), path, "image {}"
    else:
        if path.suffix.lower() not in INPUT_SUFFIXES:
            raise BatchError(
                f"{path}: prompt files are {', '.join(INPUT_SUFFIXES)}, or give a folder of images"
            )
        if not path.is_file():
            raise BatchError(f"{path}: no such file or folder")
        try:
            records = list(_records(path))
        except UnicodeDecodeError:
            raise BatchError(f"{path}: not UTF-8 text") from None
        base, where = path.parent, "line {}"
    if len(records) > MAX_ITEMS:
        raise BatchError(f"{path}: {len(records):,} items, over the limit of {MAX_ITEMS:,}")
    items = []
    for number, record, error in records:
        try:
            if record is None:
                raise ValueError(error)
            items.append(_make_item(number, record, where.format(number), base, defaults))
        except ValueError as bad:
            record = record or {}
            text = str(record.get("prompt") or "").strip()
            image = str(record.get("image") or "").strip() or None
            items.append(
                BatchItem(
                    id=f"{number:05d}-{_slug(text or Path(image or '').stem)}",
                    prompt=text,
                    seed=0,
                    image=image,
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
            same = same and old.get("image_sha256") == item.image_sha256
            same = same and old.get("mesh_sha256") == item.mesh_sha256
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
    options, seeds = dict(chunk[0].options), [item.seed for item in chunk]
    if chunk[0].mesh is not None:  # one mesh per batch (group_key)
        options["shape"] = chunk[0].mesh
    if chunk[0].image is not None:
        assets = pipe(image=[item.image for item in chunk], seed=seeds, **options)
    else:
        assets = pipe(prompt=[item.prompt for item in chunk], seed=seeds, **options)
    return list(assets)


def _store(library: Library, item: BatchItem, asset: Any, suffix: str, thumbnails: bool) -> None:
    try:
        written = asset.save(library.root / "assets" / f"{item.id}{suffix}")
        item.files = [str(path.relative_to(library.root)) for path in written]
        if thumbnails:
            thumbnail = library.root / "thumbnails" / f"{item.id}.png"
            asset.preview(thumbnail, views=1, resolution=256)
            item.thumbnail = str(thumbnail.relative_to(library.root))
            store_input_thumbnail(library, item)
        item.timings = {stage: round(seconds, 3) for stage, seconds in asset.timings.items()}
        item.status = "succeeded"
    except Gen3DError as error:
        item.status, item.error = "failed", str(error)


def store_input_thumbnail(library: Library, item: BatchItem, size: int = 256) -> None:
    """A small copy of an image item's input beside its thumbnail, for the gallery (best
    effort: the asset is what matters, and the image was readable a moment ago)."""
    if item.image is None:
        return
    from PIL import Image

    target = library.root / "thumbnails" / f"{item.id}-input.png"
    try:
        with Image.open(item.image) as image:
            image.thumbnail((size, size))
            image.save(target)
    except (*IMAGE_DECODE_ERRORS, Image.DecompressionBombError):
        return
    item.input_thumbnail = str(target.relative_to(library.root))
