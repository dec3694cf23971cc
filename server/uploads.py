"""Uploaded images and meshes: checked before any generation work, stored content-addressed.

The checks run in the order of their cost: the byte size (the body limit has already bounded
it), the format from the header (PNG, JPEG, WebP, HEIC only), the pixel count from the header
(decompression bombs are refused before a single pixel is decoded), a full decode (truncated
or corrupt files), and last the object check the pipeline itself applies (an empty or
one-colour image). An accepted image is stored as PNG under ``results/inputs/<sha256>.png``:
the results directory is the one volume the API and every worker share, and the hash makes
a re-upload of the same image (a retried request) the same file.

A mesh (to paint, or to start from) is accepted by its file suffix (single-file formats
only: a .gltf or USD file could point at other files, and what a mesh names beside itself is
read only from its own folder, ``gen3d.data.meshes.SiblingFiles``), stored as
``results/inputs/<sha256><suffix>`` and then read, checked and normalised exactly as the
pipeline will (``gen3d.shape_input.load_shape``), so a mesh the API accepts never fails in
the worker for being malformed.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from gen3d.errors import IMAGE_DECODE_ERRORS
from gen3d.images import ImageInputError, prepare_image, upright
from server.problems import Problem

ALLOWED_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "HEIF": "image/heic",  # an iPhone's photos (gen3d.images registers the format)
}
#: mesh uploads: formats that hold everything in one file. Not USD: its composition and
#: texture paths may name any file on the server, and USD resolves them itself.
MESH_SUFFIXES = (".glb", ".obj", ".ply", ".stl", ".off")
INPUTS_DIR = "inputs"


@dataclass(frozen=True)
class StoredImage:
    sha256: str
    relative_path: str  # inside the results directory, as the worker resolves it


def accept_image(data: bytes, *, max_pixels: int, results_dir: Path) -> StoredImage:
    """Check an uploaded image and store it; raises ``Problem`` naming what is wrong."""
    if not data:
        raise Problem(422, "invalid_image", "the uploaded image is empty (0 bytes)")
    image = _decode(data, max_pixels)
    try:
        prepare_image(image, 32)  # the pipeline's own object check, now rather than later
    except ImageInputError as error:
        raise Problem(422, "invalid_image", str(error)) from None
    sha = hashlib.sha256(data).hexdigest()
    relative = f"{INPUTS_DIR}/{sha}.png"
    target = results_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        image.save(partial, format="PNG")
        os.replace(partial, target)  # atomic: a worker never sees half a file
    return StoredImage(sha256=sha, relative_path=relative)


def accept_mesh(data: bytes, filename: str, *, max_faces: int, results_dir: Path) -> StoredImage:
    """Check an uploaded mesh and store it; raises ``Problem`` naming what is wrong."""
    from gen3d.data.meshes import MeshError
    from gen3d.shape_input import load_shape

    suffix = Path(filename or "").suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise Problem(
            415,
            "unsupported_mesh_type",
            f"{filename or 'the mesh'!r} is not a mesh file gen3d takes; send one of "
            f"{', '.join(MESH_SUFFIXES)} (by its file name)",
        )
    if not data:
        raise Problem(422, "invalid_mesh", "the uploaded mesh is empty (0 bytes)")
    sha = hashlib.sha256(data).hexdigest()
    relative = f"{INPUTS_DIR}/{sha}{suffix}"
    target = results_dir / relative
    if target.exists():
        return StoredImage(sha256=sha, relative_path=relative)  # checked when first stored
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{sha}.{os.getpid()}.part{suffix}")  # trimesh reads by suffix
    partial.write_bytes(data)
    try:
        load_shape(partial, max_faces=max_faces)  # as the worker will read it
    except MeshError as error:
        partial.unlink(missing_ok=True)
        raise Problem(422, "invalid_mesh", f"{filename}: {error.problem}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)  # atomic: a worker never sees half a file
    return StoredImage(sha256=sha, relative_path=relative)


def _decode(data: bytes, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            if opened.format not in ALLOWED_FORMATS:
                raise Problem(
                    415,
                    "unsupported_image_type",
                    f"{opened.format or 'this'} images are not accepted; send "
                    f"{', '.join(ALLOWED_FORMATS)}",
                )
            width, height = opened.size
            if width * height > max_pixels:
                raise Problem(
                    413,
                    "image_too_large",
                    f"the image is {width}x{height} pixels, over the limit of "
                    f"{max_pixels:,} pixels",
                )
            opened.load()
    except UnidentifiedImageError:
        raise Problem(
            415, "unsupported_image_type", "the upload is not an image (PNG, JPEG, WebP or HEIC)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Problem(413, "image_too_large", "the image is over the pixel limit") from None
    except IMAGE_DECODE_ERRORS as error:  # truncated or corrupt data
        raise Problem(422, "invalid_image", f"the image cannot be decoded ({error})") from None
    return upright(opened).convert("RGBA")  # stored as PNG: its EXIF turn is applied now


def resolve_input(results_dir: Path, relative_path: str) -> Path:
    """The stored image or mesh of a job request (only paths ``accept_image`` and
    ``accept_mesh`` make)."""
    folder, _, name = relative_path.partition("/")
    stem, suffix = Path(name).stem, Path(name).suffix
    stored = suffix in (".png", *MESH_SUFFIXES) and len(stem) == 64
    if folder != INPUTS_DIR or not stored or not all(c in "0123456789abcdef" for c in stem):
        raise ImageInputError(f"not a stored input file: {relative_path!r}")
    return results_dir / relative_path
