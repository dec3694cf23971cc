"""sRGB encoding: gen3d's colours are sRGB-encoded (the numbers a texture PNG holds); glTF's
``COLOR_0`` and USD's ``displayColor`` are linear, so vertex colours cross over here."""

from __future__ import annotations

import numpy as np


def srgb_to_linear(colours: np.ndarray) -> np.ndarray:
    """Decode sRGB values in [0, 1] to linear ones."""
    colours = np.asarray(colours, dtype=np.float64)
    return np.where(colours <= 0.04045, colours / 12.92, ((colours + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(colours: np.ndarray) -> np.ndarray:
    """Encode linear values in [0, 1] as sRGB."""
    colours = np.clip(np.asarray(colours, dtype=np.float64), 0.0, 1.0)
    return np.where(colours <= 0.0031308, colours * 12.92, 1.055 * colours ** (1 / 2.4) - 0.055)


def bytes_srgb_to_linear(colours: np.ndarray) -> np.ndarray:
    """``uint8`` sRGB colours as ``uint8`` linear ones (alpha, a fourth column, unchanged)."""
    return _convert_bytes(colours, srgb_to_linear)


def bytes_linear_to_srgb(colours: np.ndarray) -> np.ndarray:
    """``uint8`` linear colours as ``uint8`` sRGB ones (alpha, a fourth column, unchanged)."""
    return _convert_bytes(colours, linear_to_srgb)


def _convert_bytes(colours: np.ndarray, convert) -> np.ndarray:
    out = np.array(colours, dtype=np.uint8, copy=True)
    out[..., :3] = np.round(convert(out[..., :3] / 255.0) * 255.0).astype(np.uint8)
    return out
