"""Mesh extraction from fields (dense and hierarchical marching cubes) and vertex colours."""

from .extract import Extraction, extract_dense, extract_hierarchical, vertex_colours
from .field import FieldAdapter, FieldError

__all__ = [
    "Extraction",
    "FieldAdapter",
    "FieldError",
    "extract_dense",
    "extract_hierarchical",
    "vertex_colours",
]
