"""Procedural shape library: parametric generators of everyday objects built from SDFs.

>>> from gen3d.data.procedural import generate_shape
>>> shape = generate_shape("chair", seed=3)
>>> shape.caption                      # doctest: +SKIP
'a tall red wooden chair with armrests and four legs'
>>> import numpy as np
>>> d, rgb = shape.query(np.zeros((1, 3)))   # works on torch tensors too
"""

from .registry import (
    Category,
    UnknownCategoryError,
    generate_shape,
    get_category,
    list_categories,
    register_category,
)
from .shape import Part, ProceduralShape

__all__ = [
    "Category",
    "Part",
    "ProceduralShape",
    "UnknownCategoryError",
    "generate_shape",
    "get_category",
    "list_categories",
    "register_category",
]
