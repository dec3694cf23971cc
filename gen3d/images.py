"""Input images for image-to-3D: load safely, find the object, centre it on white.

Image encoders were trained on renders of single objects centred on a white background, so an
input photo is brought to that form: its alpha channel marks the object when it has one (a
cut-out PNG); otherwise the object is what differs from the border's colour (a product shot
on a plain backdrop). The object is cropped, composited over white, padded to a square with a
margin and resized.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gen3d.errors import Gen3DError

#: the most pixels an input image may have (decompression bombs are refused before decoding)
MAX_IMAGE_PIXELS = 40_000_000
#: colour distance (0..1 per channel, Euclidean) from the border's colour that counts as object
BACKGROUND_TOLERANCE = 0.12
#: the smallest object, as a fraction of the image, that counts as one
MIN_OBJECT_FRACTION = 0.001


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
        except OSError as error:
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


def object_mask(image: Image.Image) -> np.ndarray:
    """Boolean ``(H, W)``: the object's pixels, from alpha or from the border's colour."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3]
    if (alpha < 0.98).mean() > 0.01:  # a real alpha channel
        return alpha > 0.5
    rgb = rgba[..., :3]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    return np.linalg.norm(rgb - background, axis=-1) > BACKGROUND_TOLERANCE


def prepare_image(image: Any, size: int, margin: float = 0.1) -> Image.Image:
    """The object centred on white in a ``size`` square RGB image, ``margin`` of it free on
    each side."""
    rgba = load_image(image)
    mask = object_mask(rgba)
    if mask.mean() < MIN_OBJECT_FRACTION:
        raise ImageInputError(
            "the image shows no object: it is empty or one plain colour (give a photo or render "
            "of one object, ideally on a plain background or with transparency)"
        )
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = np.asarray(rgba, dtype=np.float32)[top:bottom, left:right] / 255.0
    weight = mask[top:bottom, left:right, None].astype(np.float32)
    if np.asarray(rgba)[..., 3].min() < 250:  # keep soft alpha edges where there is alpha
        weight = crop[..., 3:4]
    composite = crop[..., :3] * weight + (1.0 - weight)
    side = round(max(composite.shape[:2]) / (1.0 - 2.0 * margin))
    canvas = np.ones((side, side, 3), dtype=np.float32)
    y, x = (side - composite.shape[0]) // 2, (side - composite.shape[1]) // 2
    canvas[y : y + composite.shape[0], x : x + composite.shape[1]] = composite
    square = Image.fromarray((canvas * 255.0 + 0.5).astype(np.uint8), mode="RGB")
    return square.resize((size, size), Image.Resampling.LANCZOS)
