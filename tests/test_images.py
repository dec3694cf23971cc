"""Input images for image-to-3D: safe loading, object masks, centring on white."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from gen3d import images
from gen3d.images import (
    ImageInputError,
    cut_image,
    cut_out,
    load_image,
    object_mask,
    prepare_image,
    prepare_input,
    straightened,
)


def _photo(background=(40, 90, 160), box=(10, 30, 20, 60)) -> np.ndarray:
    canvas = np.zeros((60, 80, 3), dtype=np.uint8)
    canvas[:] = background
    top, bottom, left, right = box
    canvas[top:bottom, left:right] = (230, 200, 20)
    return canvas


def test_mask_from_the_border_colour_and_from_alpha() -> None:
    mask = object_mask(Image.fromarray(_photo()))
    assert mask[20, 40] and not mask[0, 0]
    assert mask.sum() == 20 * 40
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[8:16, 4:12] = (255, 255, 255, 255)  # a white object on a transparent background
    mask = object_mask(Image.fromarray(rgba))
    assert mask.sum() == 64 and mask[10, 6]


def _backdrop(kind: str, height: int = 120, width: int = 160) -> np.ndarray:
    y, x = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    if kind == "sweep":  # a studio sweep, darker towards the floor by 0.35
        grey = 0.97 - 0.35 * y
    else:  # vignetting: the corners 35% darker than the centre
        grey = 0.92 * (1.0 - 0.35 * ((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.5)
    return np.repeat(grey[..., None], 3, axis=-1)


@pytest.mark.parametrize("kind", ["sweep", "vignette"])
def test_the_object_is_found_on_a_backdrop_that_is_not_one_colour(kind) -> None:
    """The backdrop changes by more than the tolerance across the frame (one colour for it
    would call most of the frame object), but smoothly."""
    pixels = _backdrop(kind)
    pixels[30:90, 60:100] = (0.8, 0.3, 0.2)  # a red box
    pixels[90:120, 70:90] = (0.2, 0.3, 0.6)  # a blue stand, cut off by the frame's bottom
    truth = np.zeros(pixels.shape[:2], dtype=bool)
    truth[30:90, 60:100] = truth[90:120, 70:90] = True
    mask = object_mask(Image.fromarray((pixels * 255 + 0.5).astype(np.uint8)))
    assert (mask == truth).all()
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    one_colour = np.linalg.norm(pixels - np.median(border, axis=0), axis=-1) > 0.12
    assert (one_colour & ~truth).mean() > 0.1  # what the border's median colour would give


def test_a_busy_background_is_warned_of_and_a_backdrop_is_not() -> None:
    sweep = _backdrop("sweep")
    sweep[30:90, 60:100] = (0.8, 0.3, 0.2)
    cutout = cut_out(Image.fromarray((sweep * 255 + 0.5).astype(np.uint8)))
    assert cutout.source == "backdrop" and cutout.backdrop_share == 1.0
    assert cutout.warning is None
    room = np.random.default_rng(0).uniform(0, 1, (6, 8, 3)).repeat(20, 0).repeat(20, 1)
    room[30:90, 60:100] = (0.8, 0.3, 0.2)  # the object among patches of other colours
    cutout = cut_out(Image.fromarray((room * 255 + 0.5).astype(np.uint8)))
    assert cutout.backdrop_share < 0.5 and "background is not plain" in cutout.warning
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[8:16, 4:12] = (255, 0, 0, 255)
    assert cut_out(Image.fromarray(rgba)).warning is None  # a cut-out has no backdrop
    assert prepare_input(Image.fromarray((room * 255).astype(np.uint8)), 32).warning


def test_a_photo_turned_askew_is_turned_back() -> None:
    bar = np.full((80, 120, 3), 255, dtype=np.uint8)
    bar[35:45, 20:100] = (30, 60, 200)  # a level bar
    askew = Image.fromarray(bar).rotate(20, expand=True, fillcolor=(255, 255, 255))  # ccw
    back = straightened(askew, 20.0)
    assert back.mode == "RGBA"
    rows, cols = np.nonzero(object_mask(back))
    slope = np.polyfit(cols, rows, 1)[0]
    assert abs(np.degrees(np.arctan(slope))) < 1.5  # level again
    assert abs((cols.max() - cols.min()) - 80) <= 3
    assert np.asarray(back)[0, 0, 3] == 0  # around the object: transparent


def test_a_photo_is_cut_out_once_and_its_warning_survives_turning(monkeypatch) -> None:
    room = np.random.default_rng(0).uniform(0, 1, (6, 8, 3)).repeat(20, 0).repeat(20, 1)
    room[30:90, 60:100] = (0.8, 0.3, 0.2)
    cut = cut_image((room * 255 + 0.5).astype(np.uint8))
    assert cut.name == "ndarray" and cut_image(cut) is cut
    calls = []
    monkeypatch.setattr(images, "cut_out", lambda image: calls.append(1) or cut_out(image))
    turned = cut.turned(10.0)
    assert "background is not plain" in prepare_input(turned, 32).warning  # not lost
    assert prepare_input(cut, 32).warning and straightened(cut, 10.0).size == turned.rgba.size
    assert calls == []  # reused, never cut out again
    alpha = np.asarray(turned.rgba)[..., 3]
    assert (turned.cutout.mask == (alpha > 127)).mean() > 0.99 and alpha[0, 0] == 0

    # Kept cropped to the object and the pixel round it, where its edge may reach (a batch of
    # 12 MP photos is held through the run); what counts as too small an object is still
    # measured against the whole image.
    photo = _photo()
    cut = cut_image(photo)
    assert cut.rgba.size == (42, 22) and cut.cutout.mask.sum() == 40 * 20
    assert cut.cutout.mask[1:-1, 1:-1].all() and cut.box == (1.0, 21.0, 1.0, 41.0)
    assert np.array_equal(np.asarray(prepare_image(cut, 64)), np.asarray(prepare_image(photo, 64)))
    dot = np.full((200, 200, 3), 255, dtype=np.uint8)
    dot[100:103, 100:103] = (200, 0, 0)  # 0.02% of the image
    with pytest.raises(ImageInputError, match="no object"):
        prepare_input(cut_image(dot), 32)


def _on_the_floor(
    body: tuple[float, float, float], shadow: float, scale: int = 1
) -> tuple[np.ndarray, ...]:
    """A photo ``(H, W, 3)`` of a box (a red top over a ``body`` coloured base) on a plain
    backdrop with a soft shadow ``shadow`` dark under it (lightly noisy), and the box's true
    mask; ``scale`` times 160 x 200 pixels."""
    from scipy import ndimage

    height, width = 160 * scale, 200 * scale
    y, x = np.mgrid[0:height, 0:width] / scale
    floor = (((x - 100) / 55.0) ** 2 + ((y - 120) / 9.0) ** 2 <= 1.0).astype(np.float32)
    darkening = shadow * ndimage.gaussian_filter(floor, 4.0 * scale)
    pixels = np.full((height, width, 3), (0.92, 0.92, 0.90)) * (1.0 - darkening)[..., None]
    truth = np.zeros((height, width), dtype=bool)
    truth[40 * scale : 120 * scale, 60 * scale : 140 * scale] = True
    pixels[40 * scale : 70 * scale, 60 * scale : 140 * scale] = (0.8, 0.15, 0.1)
    pixels[70 * scale : 120 * scale, 60 * scale : 140 * scale] = body
    pixels += np.random.default_rng(0).normal(0.0, 0.01, pixels.shape)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8), truth


def _iou(mask: np.ndarray, truth: np.ndarray) -> float:
    return float((mask & truth).sum() / (mask | truth).sum())


def test_the_shadow_under_an_object_is_not_cut_out_with_it() -> None:
    photo, truth = _on_the_floor(body=(0.2, 0.3, 0.7), shadow=0.5)
    assert _iou(cut_out(Image.fromarray(photo)).mask, truth) > 0.97
    with_shadow = cut_out(Image.fromarray(photo), drop_shadows=False).mask
    assert _iou(with_shadow, truth) < 0.85  # what the backdrop alone takes
    shadowless, _ = _on_the_floor(body=(0.2, 0.3, 0.7), shadow=0.0)  # the crop is the object's
    assert (
        np.abs(
            np.asarray(prepare_image(photo, 64), dtype=float)
            - np.asarray(prepare_image(shadowless, 64), dtype=float)
        ).mean()
        < 4.0
    )

    # A large photo is judged in blocks of pixels: the same cut.
    photo, truth = _on_the_floor(body=(0.2, 0.3, 0.7), shadow=0.5, scale=8)
    assert _iou(cut_out(Image.fromarray(photo)).mask, truth) > 0.99

    # A part of the backdrop's hue (a grey base) that stands in its shadow meets it where the
    # shadow fades through the base's shade, so the two are one piece, and it all stays: an
    # object is never taken for its shadow.
    for grey in (0.7, 0.5):
        photo, truth = _on_the_floor(body=(grey, grey, grey - 0.01), shadow=0.5)
        assert cut_out(Image.fromarray(photo)).mask[truth].all()


def test_shade_cut_off_by_the_frame_with_no_backdrop_beyond_it_is_kept_quietly() -> None:
    # Grey pixels of the backdrop's hue ("g") in the frame's corner beside a red part ("S"),
    # and no backdrop pixel beyond their edge to show a fade: nothing says shadow, so they
    # stay with the object, without numpy's empty-mean warnings (training renders hit this).
    rows = [".........gggSg", "........g.gg..", "........ggggg."]
    cut = np.zeros((14, 14), dtype=bool)
    rgb = np.ones((14, 14, 3))
    for row, line in enumerate(rows, start=11):
        for column, pixel in enumerate(line):
            cut[row, column] = pixel != "."
            rgb[row, column] = {"g": (0.86,) * 3, "S": (0.8, 0.1, 0.1), ".": (1.0,) * 3}[pixel]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shadows = images._shadow_pieces(rgb, np.ones_like(rgb), cut, band=2)
    assert not shadows.any()


def test_specks_of_dust_do_not_stretch_the_crop() -> None:
    photo = _photo()
    photo[2:4, 75:77] = (0, 0, 0)  # dust in a corner, far from the object
    photo[55, 3] = (255, 255, 255)
    mask = object_mask(Image.fromarray(photo))
    assert mask.sum() == 20 * 40
    assert (np.asarray(prepare_image(photo, 64)) == np.asarray(prepare_image(_photo(), 64))).all()


def test_prepare_centres_the_object_on_white_with_a_margin() -> None:
    prepared = np.asarray(prepare_image(_photo(), 100, margin=0.1))
    assert prepared.shape == (100, 100, 3)
    assert (prepared[:5] >= 250).all() and (prepared[:, :5] >= 250).all()  # a free margin
    yellow = (prepared[..., 2] < 100) & (prepared[..., 0] > 150)
    rows, cols = np.nonzero(yellow)
    assert (
        abs((rows.min() + rows.max()) / 2 - 49.5) < 2
        and abs((cols.min() + cols.max()) / 2 - 49.5) < 2
    )
    assert cols.max() - cols.min() + 1 >= 78  # the long side fills 80% of the square


@pytest.mark.parametrize("source", [(500, 300, 60), (150, 120, 18)])
def test_the_prepared_mask_is_the_object_resampled_not_widened(source) -> None:
    # A dark bar on white, scaled up or down to the framed square: its mask keeps the bar's
    # size, to the pixel. Cutting the resampled picture again took in the blur round its
    # edge, 1.5 to 3 pixels wider, which a slim object's view estimate reads as another view.
    side, height, width = source
    canvas = np.full((side, side, 3), 255, dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    canvas[top : top + height, left : left + width] = (40, 30, 20)
    prepared = prepare_input(Image.fromarray(canvas), 384, margin=0.1)
    scale = 384 / round(height / 0.8)
    columns = prepared.mask.any(axis=0).sum()
    rows = prepared.mask.any(axis=1).sum()
    assert prepared.mask.shape == (384, 384)
    assert abs(columns - width * scale) < 1.0 and abs(rows - height * scale) < 1.0


def _bar_coverage(shape: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """``(H, W)``: how much of each pixel a bar with edges at ``box`` (top, bottom, left,
    right; fractions of a pixel) covers."""

    def spans(low: float, high: float, count: int) -> np.ndarray:
        edges = np.arange(count, dtype=float)
        return np.clip(np.minimum(edges + 1, high) - np.maximum(edges, low), 0.0, 1.0)

    top, bottom, left, right = box
    return np.outer(spans(top, bottom, shape[0]), spans(left, right, shape[1]))


@pytest.mark.parametrize("kind", ["backdrop", "alpha"])
def test_a_photo_is_framed_by_its_object_to_a_fraction_of_a_pixel(kind) -> None:
    # A bar whose edges fall between pixels, on a grey backdrop or on transparency: framed,
    # it fills the square as a render framed by its exact bounds does. A cut counts its edge
    # pixels whole, and framing by the cut's box left 370-620 pixels of the square's mask
    # wrong here (the bar 2 pixels too wide, or shifted by half a pixel); a slim object's
    # view estimate reads that as another elevation.
    box = (50.3, 250.9, 100.75, 141.25)
    cover = _bar_coverage((300, 260), box)[..., None]
    grey, ink = np.array([200.0, 205.0, 210.0]), np.array([40.0, 30.0, 20.0])
    if kind == "backdrop":
        noise = np.random.default_rng(1).normal(0.0, 1.5, (300, 260, 3))
        pixels = cover * ink + (1.0 - cover) * grey + noise
    else:
        pixels = np.concatenate([np.broadcast_to(ink, (300, 260, 3)), 255.0 * cover], axis=-1)
    image = Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))
    prepared = prepare_input(image, 384, margin=0.1)
    scale = 0.8 * 384 / (box[1] - box[0])  # the long side across 80% of the square
    width = (box[3] - box[2]) * scale
    framed = (38.4, 345.6, 192.0 - width / 2, 192.0 + width / 2)
    expected = _bar_coverage((384, 384), framed) >= 0.5
    assert (prepared.mask != expected).sum() <= 8  # 4 here: rounding at the corners


def _png_with_a_broken_chunk() -> bytes:
    """A PNG whose image data chunk says it is 0 bytes long, so the next chunk is garbage."""
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    length = data.find(b"IDAT") - 4
    data[length : length + 4] = bytes(4)
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: Image.new("RGB", (64, 64), "white").save(p), "no object"),
        (lambda p: p.write_bytes(b"GIF89a not really"), "not a readable image"),
        (lambda p: Image.new("RGB", (4, 64)).save(p), "at least 8x8"),
        # Pillow raises SyntaxError for a broken chunk, which was a traceback before.
        (lambda p: p.write_bytes(_png_with_a_broken_chunk()), "cannot read it"),
    ],
)
def test_bad_images_are_refused_with_the_reason(tmp_path, make, message) -> None:
    path = tmp_path / "input.png"
    make(path)
    with pytest.raises(ImageInputError, match=message):
        prepare_image(path, 64)


def test_oversized_images_are_refused_before_decoding(tmp_path, monkeypatch) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (400, 300)).save(path)
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100_000)
    with pytest.raises(ImageInputError, match="over the limit"):
        load_image(path)
    with pytest.raises(ImageInputError, match="no such image"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="NaN"):
        load_image(np.full((16, 16, 3), np.nan))
    assert load_image(np.ones((16, 16, 3))).mode == "RGBA"  # float arrays in [0, 1]


def _sideways_phone_photo(path) -> None:
    """A photo as phones store it: the pixels a quarter turn anticlockwise, and EXIF
    orientation 6 ("turn 90 degrees clockwise to view") saying so."""
    upright = Image.fromarray(_photo(box=(5, 45, 10, 30)))  # a tall bar, off centre
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)


def test_phone_photos_are_turned_as_their_exif_says(tmp_path) -> None:
    path = tmp_path / "portrait.jpg"
    _sideways_phone_photo(path)
    with Image.open(path) as stored:
        assert stored.size == (60, 80)  # stored sideways
    for source in (path, Image.open(path)):
        loaded = load_image(source)
        assert loaded.size == (80, 60)
        rows, cols = np.nonzero(object_mask(loaded))
        assert rows.max() - rows.min() > cols.max() - cols.min()  # the bar stands tall
        assert abs(rows.min() - 5) <= 2 and abs(cols.min() - 10) <= 2  # JPEG blurs edges


def test_iphone_photos_in_heic_are_read_upright(tmp_path) -> None:
    path = tmp_path / "IMG_0001.HEIC"
    # As an iPhone stores it: the pixels a quarter turn anticlockwise and a transform saying
    # so (the writer makes one of EXIF orientation 6), applied on reading.
    upright = Image.fromarray(_photo(box=(5, 45, 10, 30)))  # a tall bar, off centre
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes(), quality=95)
    with Image.open(path) as stored:
        assert stored.format == "HEIF"
    for source in (path, Image.open(path)):
        loaded = load_image(source)
        assert loaded.size == (80, 60)
        rows, cols = np.nonzero(object_mask(loaded))
        assert rows.max() - rows.min() > cols.max() - cols.min()  # the bar stands tall
        assert abs(rows.min() - 5) <= 2 and abs(cols.min() - 10) <= 2


def test_a_broken_exif_tag_keeps_the_pixels_as_stored(tmp_path) -> None:
    path = tmp_path / "odd.jpg"
    exif = Image.Exif()
    exif[0x0112] = 42  # no such orientation
    Image.fromarray(_photo()).save(path, exif=exif)
    assert load_image(path).size == (80, 60)
