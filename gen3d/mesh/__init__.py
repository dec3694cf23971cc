"""Mesh extraction from fields (dense and hierarchical marching cubes), cleanup, colours."""

from .cleanup import CleanupError, clean_mesh, decimate, repair, smooth
from .extract import Extraction, extract_dense, extract_hierarchical, vertex_colours
from .field import FieldAdapter, FieldError

__all__ = [
    "CleanupError",
    "Extraction",
    "FieldAdapter",
    "FieldError",
    "clean_mesh",
    "decimate",
    "extract_dense",
    "extract_hierarchical",
    "repair",
    "smooth",
    "vertex_colours",
]
