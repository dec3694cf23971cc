"""Meshes from fields: extraction (dense and hierarchical), cleanup, colours, texture baking
and export."""

from .cleanup import CleanupError, clean_mesh, decimate, repair, smooth
from .export import ExportError, export_mesh
from .extract import Extraction, extract_dense, extract_hierarchical, vertex_colours
from .field import FieldAdapter, FieldError
from .texture import TextureError, bake_field_texture

__all__ = [
    "CleanupError",
    "ExportError",
    "Extraction",
    "FieldAdapter",
    "FieldError",
    "TextureError",
    "bake_field_texture",
    "clean_mesh",
    "decimate",
    "export_mesh",
    "extract_dense",
    "extract_hierarchical",
    "repair",
    "smooth",
    "vertex_colours",
]
