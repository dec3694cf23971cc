"""Uploaded images: each kind of bad upload gets its own clear answer, good ones are stored."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from server.problems import Problem
from server.uploads import accept_image, resolve_input


def _png(size: tuple[int, int] = (64, 64), *, blank: bool = False, fmt: str = "PNG") -> bytes:
    image = Image.new("RGB", size, "white")
    if not blank:
        ImageDraw.Draw(image).ellipse((8, 8, size[0] - 8, size[1] - 8), fill="red")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png_of(*chunks: bytes, width: int = 64, height: int = 64) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + b"".join(chunks)


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width x height`` pixels, with almost no data."""
    idat = _chunk(b"IDAT", zlib.compress(b""))
    return _png_of(idat, _chunk(b"IEND", b""), width=width, height=height)


def _apng_without_frames() -> bytes:
    """An animated PNG whose one announced frame has a frame header but no pixel data."""
    frame_header = struct.pack(">IIIIIHHBB", 0, 64, 64, 0, 0, 1, 10, 0, 0)
    animation = _chunk(b"acTL", struct.pack(">II", 1, 0))
    return _png_of(animation, _chunk(b"fcTL", frame_header), _chunk(b"IEND", b""))


def _code(data: bytes, tmp_path, max_pixels: int = 4096 * 4096) -> tuple[int, str]:
    with pytest.raises(Problem) as raised:
        accept_image(data, max_pixels=max_pixels, results_dir=tmp_path)
    return raised.value.status, raised.value.code


def test_a_good_image_is_stored_once_by_content(tmp_path) -> None:
    data = _png()
    stored = accept_image(data, max_pixels=10_000, results_dir=tmp_path)
    again = accept_image(data, max_pixels=10_000, results_dir=tmp_path)
    assert stored == again and stored.relative_path == f"inputs/{stored.sha256}.png"
    path = resolve_input(tmp_path, stored.relative_path)
    with Image.open(path) as saved:
        assert saved.size == (64, 64) and saved.format == "PNG"
    jpeg = accept_image(_png(fmt="JPEG"), max_pixels=10_000, results_dir=tmp_path)
    assert jpeg.sha256 != stored.sha256


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "invalid_image"),
        (b"this is not an image at all", 415, "unsupported_image_type"),
        (_png(fmt="GIF"), 415, "unsupported_image_type"),
        (_png(fmt="BMP"), 415, "unsupported_image_type"),
        (_png()[:200], 422, "invalid_image"),  # truncated
        (_apng_without_frames(), 422, "invalid_image"),
        (_png(blank=True), 422, "invalid_image"),  # no object in it
    ],
    ids=["empty", "text", "gif", "bmp", "truncated", "apng-without-frames", "blank"],
)
def test_bad_uploads_are_named(tmp_path, data: bytes, status: int, code: str) -> None:
    assert _code(data, tmp_path) == (status, code)
    assert not (tmp_path / "inputs").exists() or not any((tmp_path / "inputs").iterdir())


def test_pixel_bombs_are_refused_before_decoding(tmp_path) -> None:
    bomb = _bomb_png(60_000, 60_000)  # 3.6 gigapixels in under 100 bytes
    assert len(bomb) < 100
    assert _code(bomb, tmp_path) == (413, "image_too_large")
    assert _code(_png((200, 100)), tmp_path, max_pixels=10_000) == (413, "image_too_large")


def test_only_stored_inputs_resolve(tmp_path) -> None:
    stray = "x/" + "a" * 64 + ".png"
    for bad in ("../jobs.sqlite3", "inputs/../../etc/passwd", "inputs/abc.png", stray):
        with pytest.raises(Exception, match="not a stored input file"):
            resolve_input(tmp_path, bad)


def test_an_iphone_heic_photo_is_accepted_and_stored_as_png(tmp_path) -> None:
    image = Image.new("RGB", (40, 64), "white")
    ImageDraw.Draw(image).rectangle((10, 4, 30, 20), fill="red")  # red near the top
    buffer = io.BytesIO()
    image.save(buffer, format="HEIF", quality=95)
    stored = accept_image(buffer.getvalue(), max_pixels=10_000, results_dir=tmp_path)
    assert stored.relative_path.endswith(".png")
    with Image.open(resolve_input(tmp_path, stored.relative_path)) as saved:
        assert saved.format == "PNG" and saved.size == (40, 64)
        red = saved.convert("RGB").getpixel((20, 10))
        assert red[0] > 200 and red[1] < 80


def test_a_phone_photo_is_stored_upright(tmp_path) -> None:
    """A JPEG whose EXIF says to turn it is stored turned: the PNG kept has no EXIF."""
    image = Image.new("RGB", (40, 64), "white")
    ImageDraw.Draw(image).rectangle((10, 4, 30, 20), fill="red")  # red near the top
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees clockwise to view
    buffer = io.BytesIO()
    image.transpose(Image.Transpose.ROTATE_90).save(buffer, format="JPEG", exif=exif)
    stored = accept_image(buffer.getvalue(), max_pixels=10_000, results_dir=tmp_path)
    with Image.open(resolve_input(tmp_path, stored.relative_path)) as saved:
        assert saved.size == (40, 64)
        red = saved.convert("RGB").getpixel((20, 10))
        assert red[0] > 200 and red[1] < 80
