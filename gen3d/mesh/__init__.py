"""Meshes from fields: extraction (dense and hierarchical), cleanup, colours and export."""

from .cleanup import CleanupError, clean_mesh, decimate, repair, smooth
from .export import ExportError, export_mesh
from .extract import Extraction, extract_dense, extract_hierarchical, vertex_colours
from .field import FieldAdapter, FieldError

__all__ = [
    "CleanupError",
    "ExportError",
    "Extraction",
    "FieldAdapter",
    "FieldError",
    "clean_mesh",
    "decimate",
    "export_mesh",
    "extract_dense",
    "extract_hierarchical",
    "repair",
    "smooth",
    "vertex_colours",
]
