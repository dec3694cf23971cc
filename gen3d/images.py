"""Input images for image-to-3D: load safely, find the object, centre it on white.

Image encoders were trained on renders of single objects centred on a white background, so an
input photo is brought to that form: turned upright as its EXIF says (phone photos), its
alpha channel marks the object when it has one (a cut-out PNG); otherwise the object is what
differs from the backdrop, a smooth colour field fitted to the image's border (a product shot
on a sweep, a phone photo against a wall: one side lit, the corners darkened). Specks of dust
and the object's shadows on the floor are dropped. The object is composited over white and
framed in a square with a margin, resized, as renders are framed: by its exact box, to a
fraction of a pixel, read from how much of each pixel along its edge it covers (``exact_box``).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, replace
from math import ceil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener
from scipy import ndimage

from gen3d.errors import IMAGE_DECODE_ERRORS, Gen3DError

# HEIC/HEIF (an iPhone's photos) opens like any other format; the photo comes upright (its
# turn is applied on reading).
register_heif_opener()

#: the most pixels an input image may have (decompression bombs are refused before decoding)
MAX_IMAGE_PIXELS = 40_000_000
#: colour distance (0..1 per channel, Euclidean) from the border's colour that counts as object
BACKGROUND_TOLERANCE = 0.12
#: the smallest object, as a fraction of the image, that counts as one
MIN_OBJECT_FRACTION = 0.001
#: the backdrop is seen in a band 1/BORDER_BAND of the image's shorter side wide (at least a
#: pixel) along its edges, fitted in this many reweighting rounds
BORDER_BAND = 100
BACKDROP_FIT_ITERATIONS = 12
#: less of the image's edge than this share on the fitted backdrop: a busy background (warned)
PLAIN_BACKDROP_SHARE = 0.7
#: pieces of the mask smaller than this share of its largest are specks, not the object
SPECK_SHARE = 0.01
#: fewer of the band's pixels than this share on the fitted backdrop: fit a plain one instead
MIN_BACKDROP_BORDER = 0.3
#: a shadow darkens the backdrop's channels alike: its colour over the backdrop's, per channel,
#: within this share of their mean; and no darker than this share of the backdrop
SHADOW_HUE_TOLERANCE = 0.08
SHADOW_DARKEST = 0.25
#: a shadow's edge fades out over many pixels, an object's edge is crisp: beyond the cut, in a
#: band this share of the image's shorter side wide, a shadow leaves at least SHADOW_FADED_SHARE
#: of the backdrop darker by SHADOW_FADE or more (an object's shaded side merged with its
#: shadow, or a light object's shading, leaves less), and within a shadow the brightness
#: changes by less than SHADOW_STEP per pixel (more is the edge of an object standing in it)
SHADOW_EDGE_BAND = 0.01
SHADOW_FADE = 0.02
SHADOW_FADED_SHARE = 0.9
SHADOW_STEP = 0.05
#: a shadow's piece has the backdrop beyond at least this share of the band round it
SHADOW_OPEN_SHARE = 0.4
#: shadows are judged in blocks of pixels, so that the image's shorter side is about this long
SHADOW_WORK_SIDE = 500
#: more of the band than this share brighter than the backdrop: the lit side of a light
#: object, not a shadow's surroundings
SHADOW_LIT_SHARE = 0.05
#: at least this share of the cut stays: dropping more would take the object for shadow
MIN_SOLID_SHARE = 0.2
#: the object's extent is read to a fraction of a pixel (``exact_box``) from how much of each
#: pixel it covers in this many rows (columns) either side of each edge of its cut's box
EDGE_WINDOW = 2
#: colour distance from the backdrop that is noise (JPEG, sensor), not coverage
MATTE_NOISE = 0.03
#: an object whose edge differs from the backdrop by less than this tells too little about
#: how much of a pixel it covers: that edge is read as the cut has it
MIN_MATTE_CONTRAST = 0.2


class ImageInputError(Gen3DError):
    """An input image that cannot be used (unreadable, too large, empty, no object)."""


def load_image(image: Any) -> Image.Image:
    """An RGBA image from a path, a PIL image or an array ``(H, W[, 3|4])`` (uint8, or float
    in [0, 1])."""
    if isinstance(image, str | Path):
        path = Path(image)
        if not path.is_file():
            raise ImageInputError(f"{path}: no such image file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as opened:
                    _check_size(opened.size, str(path))
                    opened.load()
                    image = upright(opened)
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ):
            raise ImageInputError(
                f"{path}: not a readable image (or over the size limit)"
            ) from None
        except IMAGE_DECODE_ERRORS as error:
            raise ImageInputError(f"{path}: cannot read it ({error})") from None
    elif isinstance(image, np.ndarray):
        array = image
        if array.dtype != np.uint8:
            if not np.isfinite(array).all():
                raise ImageInputError("the image array contains NaN or infinity")
            array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise ImageInputError(
                f"an image array must be (H, W), (H, W, 3) or (H, W, 4), not {array.shape}"
            )
        image = Image.fromarray(array)
    elif isinstance(image, Image.Image):
        image = upright(image)
    else:
        raise ImageInputError(
            f"expected an image path, a PIL image or an array, not {type(image).__name__}"
        )
    _check_size(image.size, "the image")
    return image.convert("RGBA")


def upright(image: Image.Image) -> Image.Image:
    """``image`` turned the way its camera was held. Phones store a portrait photo's pixels
    sideways and say so in the EXIF orientation tag; read as stored, the object would lie on
    its side. A copy either way; an unreadable tag leaves the pixels as stored."""
    try:
        turned = ImageOps.exif_transpose(image)
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):
        return image.copy()
    return turned if turned is not None else image.copy()


def _check_size(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width < 8 or height < 8:
        raise ImageInputError(f"{name} is {width}x{height} pixels; at least 8x8 is needed")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageInputError(
            f"{name} is {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS:,} pixels"
        )


@dataclass(frozen=True)
class Cutout:
    """An input image's object, and how it was found."""

    mask: np.ndarray  # (H, W) bool
    source: str  # "alpha" (a cut-out's transparency) or "backdrop" (what differs from it)
    backdrop_share: float = 1.0  # of the image's edge, the share on the fitted backdrop
    backdrop: Backdrop | None = None  # the fitted backdrop ("backdrop" cuts)

    @property
    def warning(self) -> str | None:
        """What the user should know about the cut, or None: a busy background (a room, a
        street) is no backdrop, and colour alone cannot tell the object from it."""
        if self.source == "backdrop" and self.backdrop_share < PLAIN_BACKDROP_SHARE:
            return (
                f"the image's background is not plain (only {self.backdrop_share:.0%} of its "
                "edge looks like one backdrop), so the object was cut out by colour and may "
                "take background with it: a cut-out (a PNG with transparency) or a photo "
                "against a plain backdrop works best"
            )
        return None


def cut_out(image: Image.Image, drop_shadows: bool = True) -> Cutout:
    """The object of ``image``: from alpha or, without one, what differs from the backdrop by
    more than ``BACKGROUND_TOLERANCE`` (``fit_backdrop``), less the object's shadows on it
    (``without_shadows``, unless ``drop_shadows`` is false); specks dropped."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3]
    if (alpha < 0.98).mean() > 0.01:  # a real alpha channel
        return Cutout(without_specks(alpha > 0.5), "alpha")
    backdrop = fit_backdrop(rgba[..., :3])
    mask = without_specks(backdrop.distance(rgba[..., :3]) > BACKGROUND_TOLERANCE)
    if drop_shadows:
        mask = without_shadows(rgba[..., :3], backdrop, mask)
    return Cutout(mask, "backdrop", backdrop.share, backdrop)


def without_shadows(rgb: np.ndarray, backdrop: Backdrop, mask: np.ndarray) -> np.ndarray:
    """``mask`` less the shadows the object casts on the backdrop (product shots lit from
    above leave a soft dark patch under the object; side light throws one beside it). Those
    differ from the backdrop too, so the cut takes them, and the crop then frames object and
    shadow as one and the model makes the shadow a slab.

    A shadow is the backdrop darkened, every channel alike (``SHADOW_HUE_TOLERANCE``), and
    its edge fades out over many pixels (``SHADOW_FADE``), where an object's edge is crisp. A
    piece of such pixels, split where the brightness steps (a grey leg standing in its shadow:
    ``SHADOW_STEP``), is dropped when it lies open to the backdrop, its edge fades all round
    and it reaches below the object's lowest part of its own colour (the floor). A grey part
    standing in its shadow meets it where the shadow fades through the part's shade: one
    piece, kept whole (the object is never taken for its shadow), as is everything of an
    object all of the backdrop's hue. Large photos are judged in blocks of pixels, at about
    ``SHADOW_WORK_SIDE`` pixels across, so that a 12-megapixel photo costs as little as a
    small one and the thresholds mean the same at any size.
    """
    if not mask.any():
        return mask
    height, width = mask.shape
    block = max(1, min(height, width) // SHADOW_WORK_SIDE)
    band = max(2, round(SHADOW_EDGE_BAND * min(height, width) / block))  # in blocks
    top, bottom, left, right = mask_box(mask)
    margin = (band + 1) * block
    top, left = max(top - margin, 0), max(left - margin, 0)
    bottom = top + (min(bottom + margin, height) - top) // block * block
    right = left + (min(right + margin, width) - left) // block * block
    colour = backdrop.colour(height, width, (top, bottom, left, right), step=block)
    shape = (colour.shape[0], block, colour.shape[1], block)
    area = rgb[top:bottom, left:right]
    if block > 1:  # block means: the colours, and the cut by majority
        area = area.reshape(*shape, 3).mean(axis=(1, 3))
        cut = mask[top:bottom, left:right].reshape(shape).mean(axis=(1, 3)) > 0.5
    else:
        cut = mask[top:bottom, left:right]
    shadows = _shadow_pieces(area, colour, cut, band)
    if not shadows.any():
        return mask
    if block > 1:
        shadows = shadows.repeat(block, axis=0).repeat(block, axis=1)
    kept = mask[top:bottom, left:right] & ~shadows
    if kept.sum() < MIN_SOLID_SHARE * mask[top:bottom, left:right].sum():
        return mask
    out = mask.copy()
    out[top:bottom, left:right] = kept
    return without_specks(out)


def _shadow_pieces(rgb: np.ndarray, colour: np.ndarray, cut: np.ndarray, band: int) -> np.ndarray:
    """``without_shadows``'s judgement: which pixels of ``cut`` (of ``rgb``, over backdrop
    ``colour``) are the object's shadow, ``band`` pixels the width of the edge looked at."""
    ratio = rgb / np.maximum(colour, 0.05)
    brightness = ratio.mean(axis=-1)
    hue = np.abs(ratio - brightness[..., None]).max(axis=-1) / np.maximum(brightness, 0.05)
    shadowy = cut & (brightness >= SHADOW_DARKEST) & (brightness < 1.0)
    shadowy &= hue <= SHADOW_HUE_TOLERANCE
    solid = cut & ~shadowy
    shadows = np.zeros_like(cut)
    if not solid.any():  # all of the backdrop's hue (grey on grey): object and shadow alike
        return shadows
    base = np.nonzero(solid.any(axis=1))[0].max()  # the object's lowest row of its own colour
    step = np.hypot(ndimage.sobel(brightness, 0), ndimage.sobel(brightness, 1)) / 8.0
    outside = ~ndimage.binary_dilation(cut, iterations=1)
    edges = shadowy & (step >= SHADOW_STEP)
    labels, _ = ndimage.label(shadowy & ~edges)
    sizes = np.bincount(labels.ravel())
    for index, piece in enumerate(ndimage.find_objects(labels), start=1):
        if piece[0].stop - 1 <= base:  # a shadow on the floor reaches below the object
            continue
        if sizes[index] < band * band:  # a speck of shade: too small to see its edge
            continue
        grown = (
            slice(max(piece[0].start - band, 0), piece[0].stop + band),
            slice(max(piece[1].start - band, 0), piece[1].stop + band),
        )
        own = labels[grown] == index
        # With its edge pixels (a crisp edge is a step, left out of the piece) and its holes,
        # so that the band sees the backdrop beyond a crisp edge too.
        edged = ndimage.binary_fill_holes(
            own | (edges[grown] & ndimage.binary_dilation(own, iterations=2))
        )
        around = ndimage.binary_dilation(edged, iterations=band) & ~edged
        # A shadow lies open to the backdrop round most of its edge; a piece walled in by the
        # object is part of it.
        if (around & ~cut[grown]).sum() < SHADOW_OPEN_SHARE * around.sum():
            continue
        ring = around & outside[grown]  # less the pixel next to the cut: antialiasing
        if not ring.any():  # no backdrop in sight beyond its edge: nothing tells it fades
            continue
        beyond = brightness[grown][ring]
        fades = ((1.0 - beyond) >= SHADOW_FADE).mean() >= SHADOW_FADED_SHARE
        # A light object's shaded side fades into its lit side, which is brighter than the
        # backdrop in places; around a shadow, nothing is.
        lit = (beyond > 1.0 + SHADOW_FADE).mean() > SHADOW_LIT_SHARE
        if fades and not lit:
            shadows[grown] |= own
    # The shadow's pixels along the object's edge (left out of the pieces as a step): with it.
    shadows |= edges & ndimage.binary_dilation(shadows, iterations=2)
    return shadows


def object_mask(image: Image.Image) -> np.ndarray:
    """Boolean ``(H, W)``: the object's pixels (``cut_out``)."""
    return cut_out(image).mask


def without_specks(mask: np.ndarray) -> np.ndarray:
    """``mask`` less its specks: the connected pieces (8-neighbours) smaller than
    ``SPECK_SHARE`` of the largest. Dust, a mark on the backdrop or a stray pixel of a cut-out
    would otherwise stretch the object's crop box to reach them."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    keep = sizes >= SPECK_SHARE * sizes.max()
    keep[0] = False
    return keep[labels]


@dataclass(frozen=True)
class Backdrop:
    """A photo's backdrop: per channel a quadratic in the pixel's position (``fit_backdrop``)."""

    coefficients: np.ndarray  # (6, 3), for 1, y, x, y^2, xy, x^2 with x, y in [-1, 1]
    low: np.ndarray  # (3,): the field is kept within the colours seen on the edge, widened
    high: np.ndarray  # by the tolerance, where it is extrapolated
    share: float  # of the image's edge, the share within half the tolerance of the field

    def colour(
        self, height: int, width: int, box: tuple[int, int, int, int], step: int = 1
    ) -> np.ndarray:
        """The backdrop's colour in ``box`` (top, bottom, left, right) of a ``height`` x
        ``width`` image, ``(rows, columns, 3)``; every ``step``-th pixel of it, at the middle
        of each block of ``step`` x ``step``, with ``step > 1``."""
        top, bottom, left, right = box
        centre = (step - 1) / 2
        y = np.interp(np.arange(top, bottom, step) + centre, [0, height - 1], [-1.0, 1.0])
        x = np.interp(np.arange(left, right, step) + centre, [0, width - 1], [-1.0, 1.0])
        y, x = y.astype(np.float32)[:, None], x.astype(np.float32)[None, :]
        field = np.empty((len(y), x.shape[1], 3), dtype=np.float32)
        for channel in range(3):
            self._channel(channel, y, x, field[..., channel])
        return field

    def at(self, height: int, width: int, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """``(N, 3)``: the backdrop's colour at pixels ``rows``, ``columns`` (each ``(N,)``)
        of a ``height`` x ``width`` image."""
        y = np.interp(rows, [0, height - 1], [-1.0, 1.0]).astype(np.float32)
        x = np.interp(columns, [0, width - 1], [-1.0, 1.0]).astype(np.float32)
        colours = np.empty((len(y), 3), dtype=np.float32)
        for channel in range(3):
            self._channel(channel, y, x, colours[:, channel])
        return colours

    def distance(self, rgb: np.ndarray) -> np.ndarray:
        """How far ``(H, W)`` each pixel of ``rgb (H, W, 3)`` in [0, 1] is from the backdrop
        behind it (Euclidean, in RGB)."""
        height, width = rgb.shape[:2]
        y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
        x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
        squared = np.zeros((height, width), dtype=np.float32)
        value = np.empty((height, width), dtype=np.float32)
        for channel in range(3):
            self._channel(channel, y, x, value)
            value -= rgb[..., channel]
            np.square(value, out=value)
            squared += value
        return np.sqrt(squared, out=squared)

    def _channel(self, channel: int, y: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """One channel of the backdrop, clipped, into ``out (R, C)`` at rows ``y (R, 1)`` and
        columns ``x (1, C)`` in [-1, 1]. In place and per channel: a 12-megapixel photo takes a
        few full-size passes, never an (H, W, 6) array of the quadratic's terms."""
        c = self.coefficients[:, channel].astype(np.float32)
        # c0 + c1 y + c2 x + c3 y^2 + c4 xy + c5 x^2 = (per row) * x + (per row) + c5 x^2
        np.multiply(c[2] + c[4] * y, x, out=out)
        out += c[0] + c[1] * y + c[3] * y * y
        out += c[5] * x * x
        return np.clip(out, self.low[channel], self.high[channel], out=out)


def fit_backdrop(rgb: np.ndarray) -> Backdrop:
    """The backdrop of ``rgb (H, W, 3)`` in [0, 1], as seen along the image's edge.

    A backdrop is rarely one colour: a studio sweep darkens towards the floor, a lens darkens
    the corners, a window lights one side. Across the frame those change the backdrop by more
    than the tolerance, while between neighbours they change it little, so it is modelled
    as a smooth field: per channel a quadratic in the pixel's position, fitted to the edge's
    pixels in least absolute deviations (where the object runs off the edge, its pixels are
    outliers). Where too little of the edge is on such a field, the edge's median colour is
    taken, as a plain backdrop.
    """
    height, width = rgb.shape[:2]
    band = max(1, min(height, width) // BORDER_BAND)
    ring = np.zeros((height, width), dtype=bool)
    ring[:band], ring[-band:], ring[:, :band], ring[:, -band:] = True, True, True, True
    rows, cols = np.nonzero(ring)
    colours = rgb[rows, cols].astype(np.float64)
    median = np.median(colours, axis=0)
    design = _quadratic_terms(rows / max(height - 1, 1) * 2 - 1, cols / max(width - 1, 1) * 2 - 1)
    coefficients = np.zeros((design.shape[1], 3))
    coefficients[0] = median
    for _ in range(BACKDROP_FIT_ITERATIONS):  # IRLS for least (Euclidean) absolute deviations
        residual = np.linalg.norm(colours - design @ coefficients, axis=-1)
        weight = 1.0 / np.maximum(residual, 0.01 * BACKGROUND_TOLERANCE)
        weighted = design * weight[:, None]
        coefficients = np.linalg.solve(
            weighted.T @ design + 1e-6 * np.eye(design.shape[1]), weighted.T @ colours
        )
    residual = np.linalg.norm(colours - design @ coefficients, axis=-1)
    inliers = residual < BACKGROUND_TOLERANCE / 2
    share = float(inliers.mean())
    if share < MIN_BACKDROP_BORDER:
        coefficients = np.zeros_like(coefficients)
        coefficients[0] = median
        inliers = np.ones_like(inliers)
    low = colours[inliers].min(axis=0) - BACKGROUND_TOLERANCE
    high = colours[inliers].max(axis=0) + BACKGROUND_TOLERANCE
    return Backdrop(coefficients, low, high, share)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The box (top, bottom, left, right; bottom and right exclusive) around a non-empty
    ``mask``'s pixels."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def exact_box(mask: np.ndarray, coverage: np.ndarray) -> tuple[float, float, float, float]:
    """A non-empty ``mask``'s box (``mask_box``) to a fraction of a pixel: each edge where
    the object's ``coverage`` of the pixels round it (``soft_coverage``) puts it.

    A cut counts a pixel as the object's or not, so its box is up to a pixel off at each edge,
    while renders are framed by their exact bounds: on a small photo, a slim object framed a
    pixel too tall reads as another view (a bottle's outline changes little from one
    elevation to the next). Each edge is read from the most any pixel covers in each row
    (column) there, ``EDGE_WINDOW`` inside the box and one outside it: an edge a pixel covers
    by a share ``f`` lies ``f`` into it, and the shares of a blurred edge add up to where it is.
    """
    top, bottom, left, right = mask_box(mask)
    height, width = mask.shape
    inner = EDGE_WINDOW
    if min(bottom - top, right - left) <= 2 * inner:
        return float(top), float(bottom), float(left), float(right)
    exact = []
    for axis, (start, end), size, span in (
        (0, (top, bottom), height, width),
        (1, (left, right), width, height),
    ):
        for edge, inward in ((start, 1), (end, -1)):
            near = (edge, edge + inner) if inward > 0 else (edge - inner, edge)
            band = mask[near[0] : near[1]] if axis == 0 else mask[:, near[0] : near[1]]
            # only across where the object reaches this edge: a speck dropped from the cut,
            # or noise, elsewhere along the row must not count
            reach = np.nonzero(band.any(axis=axis))[0]
            low, high = max(int(reach.min()) - inner, 0), min(int(reach.max()) + 1 + inner, span)
            window = (edge - 1, edge + inner) if inward > 0 else (edge - inner, edge + 1)
            first, last = max(window[0], 0), min(window[1], size)
            strip = coverage[first:last, low:high] if axis == 0 else coverage[low:high, first:last]
            covered = float(strip.max(axis=1 - axis).sum())
            exact.append(edge + inner - covered if inward > 0 else edge - inner + covered)
    top_, bottom_, left_, right_ = exact
    if bottom_ - top_ < 1.0 or right_ - left_ < 1.0:  # no sense to be made of it
        return float(top), float(bottom), float(left), float(right)
    return top_, bottom_, left_, right_


def soft_coverage(rgba: np.ndarray, cutout: Cutout, box: tuple[int, int, int, int]) -> np.ndarray:
    """How much of each pixel in ``box`` (top, bottom, left, right) of ``rgba (H, W, 4)``
    (8-bit) the object ``cutout`` found covers, in [0, 1]. Its alpha, or for a cut from the
    backdrop, the cut itself but along its edge: there a pixel blends the object with the
    backdrop, and covers as much as it is far from the backdrop, as a share of how far the
    object's own pixels next to it are (the cut again where they are too near the backdrop's
    colour to tell). A pixel beyond the cut that is far from the backdrop was dropped from it
    (a shadow), and covers nothing."""
    top, bottom, left, right = box
    if cutout.backdrop is None:
        return rgba[top:bottom, left:right, 3].astype(np.float32) / 255.0
    inside = cutout.mask
    height, width = inside.shape
    cut = inside[top:bottom, left:right]
    coverage = cut.astype(np.float32)
    # the pixels either side of the cut's edge
    edge = ndimage.binary_dilation(cut) & ~ndimage.binary_erosion(cut, border_value=1)
    rows, columns = np.nonzero(edge)
    rows, columns = rows + top, columns + left

    def distance(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        colours = rgba[rows, columns, :3].astype(np.float32) / 255.0
        behind = cutout.backdrop.at(height, width, rows, columns)
        return np.linalg.norm(colours - behind, axis=-1)

    # how far each edge pixel is from the backdrop, and the most any of the object's pixels
    # round it is
    far = distance(rows, columns)
    contrast = np.zeros_like(far)
    for dy, dx in itertools.product((-1, 0, 1), repeat=2):
        around_rows = np.clip(rows + dy, 0, height - 1)
        around_columns = np.clip(columns + dx, 0, width - 1)
        on = inside[around_rows, around_columns]
        there = distance(around_rows[on], around_columns[on])
        contrast[on] = np.maximum(contrast[on], there)
    matte = np.clip((far - MATTE_NOISE) / np.maximum(contrast - MATTE_NOISE, 1e-6), 0.0, 1.0)
    # beyond the cut, a pixel far from the backdrop was dropped from it (a shadow, a speck)
    matte[~inside[rows, columns] & (far > BACKGROUND_TOLERANCE)] = 0.0
    readable = contrast >= MIN_MATTE_CONTRAST
    coverage[rows[readable] - top, columns[readable] - left] = matte[readable]
    return coverage


def _quadratic_terms(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(N, 6)``: 1, y, x, y^2, xy, x^2 (the order ``Backdrop._channel`` evaluates them in)."""
    return np.stack([np.ones_like(y), y, x, y * y, x * y, x * x], axis=-1)


@dataclass(frozen=True)
class CutImage:
    """An input image with its object found once (``cut_image``), to be used again as it is:
    straightening reads a photo three times (the quick shape, its view estimate, turning it)
    and cutting out a 12 MP photo takes over a second each time."""

    rgba: Image.Image  # cropped to the object
    cutout: Cutout
    name: str  # the file's name, or what it was given as (for log lines)
    object_share: float  # of the whole image, the share the object covers
    #: the object's box in ``rgba``'s pixels (top, bottom, left, right), to a fraction of a
    #: pixel (``exact_box``); empty where there is no object
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    #: ``(H, W)`` as ``rgba``: how much of each pixel the object covers (``soft_coverage``),
    #: in 255ths (a byte a pixel, as ``rgba``'s alpha), where it was cut from a backdrop
    #: (None: ``rgba``'s alpha and the cut tell)
    coverage: np.ndarray | None = None

    def turned(self, degrees: float) -> CutImage:
        """The object turned ``degrees`` clockwise on a transparent canvas grown to hold every
        corner (``straightened``); how it was cut out (so its warning) carries over."""
        pixels = np.asarray(self.rgba).copy()
        pixels[..., 3] = np.where(self.cutout.mask, pixels[..., 3], 0)
        rgba = Image.fromarray(pixels).rotate(
            -degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255, 0)
        )
        pixels = np.asarray(rgba)
        mask = without_specks(pixels[..., 3] > 127)
        # turned, the object is on transparency whatever it was cut from: its alpha, resampled
        # from the cut, is how much of each pixel it covers
        box = exact_box(mask, pixels[..., 3] / 255.0) if mask.any() else self.box
        cutout = replace(self.cutout, mask=mask, backdrop=None)
        return CutImage(rgba, cutout, self.name, self.object_share, box)


def cut_image(image: Any) -> CutImage:
    """``image`` (``load_image``'s inputs, or a ``CutImage``, returned as it is) loaded and its
    object found (``cut_out``), cropped to the object's box: a batch of 12 MP photos is kept
    for the whole run, and only the object is ever used."""
    if isinstance(image, CutImage):
        return image
    name = Path(image).name if isinstance(image, str | Path) else type(image).__name__
    rgba = load_image(image)
    cutout = cut_out(rgba)
    share = float(cutout.mask.mean())
    if not cutout.mask.any():
        return CutImage(rgba, cutout, name, share)
    # A pixel round the object's box kept: its edge may cover some of it.
    top, bottom, left, right = mask_box(cutout.mask)
    top, left = max(top - 1, 0), max(left - 1, 0)
    bottom, right = min(bottom + 1, rgba.height), min(right + 1, rgba.width)
    coverage = soft_coverage(np.asarray(rgba), cutout, (top, bottom, left, right))
    soft = None
    if cutout.backdrop is not None:
        soft = (coverage * 255.0 + 0.5).astype(np.uint8)
    cutout = replace(cutout, mask=cutout.mask[top:bottom, left:right], backdrop=None)
    box = exact_box(cutout.mask, coverage)
    return CutImage(rgba.crop((left, top, right, bottom)), cutout, name, share, box, soft)


def straightened(image: Any, degrees: float) -> Image.Image:
    """``image``'s object (cut out: RGBA, transparent around it) turned ``degrees``
    clockwise, undoing a camera held askew that turned the picture as much the other way; the
    canvas grows to hold every corner."""
    return cut_image(image).turned(degrees).rgba


def prepare_image(image: Any, size: int, margin: float = 0.1) -> Image.Image:
    """The object centred on white in a ``size`` square RGB image, ``margin`` of it free on
    each side."""
    return prepare_input(image, size, margin).image


@dataclass(frozen=True)
class PreparedImage:
    image: Image.Image  # ``prepare_image``'s
    warning: str | None  # what the user should know about how the object was cut out
    #: ``(size, size)`` boolean: the object's pixels in ``image``, where it covers half a pixel
    #: or more (``soft_coverage``, framed and resampled as the colours were)
    mask: np.ndarray


def prepare_input(image: Any, size: int, margin: float = 0.1) -> PreparedImage:
    """``prepare_image``, and the cut-out's warning (``Cutout.warning``)."""
    cut = cut_image(image)
    rgba, cutout = cut.rgba, cut.cutout
    mask = cutout.mask
    if cut.object_share < MIN_OBJECT_FRACTION:
        raise ImageInputError(
            "the image shows no object: it is empty or one plain colour (give a photo or render "
            "of one object, ideally on a plain background or with transparency)"
        )
    pixels = np.asarray(rgba, dtype=np.float32) / 255.0
    weight = mask[..., None].astype(np.float32)
    if np.asarray(rgba)[..., 3].min() < 250:  # keep soft alpha edges where there is alpha
        weight = pixels[..., 3:4]
    composite = pixels[..., :3] * weight + (1.0 - weight)
    # The mask is how much of each pixel the object covers, resampled as the colours are, not
    # the resized picture cut again: resampling blurs the object's edge into the backdrop, and
    # a fresh cut takes in every pixel the blur darkened, a pixel or more wider. On a slim
    # object (a bottle), whose outline framed by its height barely changes from one elevation
    # to the next, that reads as another view; so does a cut's edge, which takes in every
    # pixel the object darkens enough, up to a pixel wider.
    covered = weight[..., 0] if cut.coverage is None else cut.coverage / np.float32(255.0)
    # Framed by the object's exact box, as renders are by their exact bounds: the square's
    # side and centre to a fraction of a pixel, which resampling takes as they are.
    top, bottom, left, right = cut.box
    if bottom <= top or right <= left:  # no exact box: the cut's
        top, bottom, left, right = mask_box(mask)
    side = max(bottom - top, right - left) / (1.0 - 2.0 * margin)
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    height, width = composite.shape[:2]
    pad_y = ceil(max(side / 2 - centre_y, centre_y + side / 2 - height, 0.0)) + 1
    pad_x = ceil(max(side / 2 - centre_x, centre_x + side / 2 - width, 0.0)) + 1
    canvas = np.ones((height + 2 * pad_y, width + 2 * pad_x, 3), dtype=np.float32)
    coverage = np.zeros(canvas.shape[:2], dtype=np.float32)
    canvas[pad_y : pad_y + height, pad_x : pad_x + width] = composite
    coverage[pad_y : pad_y + height, pad_x : pad_x + width] = covered
    square = Image.fromarray((canvas * 255.0 + 0.5).astype(np.uint8), mode="RGB")
    region = (
        pad_x + centre_x - side / 2,
        pad_y + centre_y - side / 2,
        pad_x + centre_x + side / 2,
        pad_y + centre_y + side / 2,
    )
    resample = Image.Resampling.LANCZOS
    framed = Image.fromarray(coverage).resize((size, size), resample, box=region)
    framed_coverage = np.asarray(framed)
    return PreparedImage(
        square.resize((size, size), resample, box=region), cutout.warning, framed_coverage >= 0.5
    )
