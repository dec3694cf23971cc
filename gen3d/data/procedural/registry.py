"""The category registry: ``@register_category`` generators and ``generate_shape``."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gen3d.errors import Gen3DError

from .design import Design
from .shape import ProceduralShape

Generator = Callable[[Design], None]


class UnknownCategoryError(Gen3DError, KeyError):
    """A category name that no generator is registered under."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Category:
    name: str
    noun: str
    synonyms: tuple[str, ...]
    generator: Generator


_CATEGORIES: dict[str, Category] = {}


def register_category(
    name: str, *, noun: str | None = None, synonyms: Sequence[str] = ()
) -> Callable[[Generator], Generator]:
    """Register a generator under ``name``; captions call it ``noun`` (default: the name)."""

    def decorator(generator: Generator) -> Generator:
        if name in _CATEGORIES:
            raise ValueError(f"category {name!r} is already registered")
        _CATEGORIES[name] = Category(
            name, noun or name.replace("_", " "), tuple(synonyms), generator
        )
        return generator

    return decorator


def list_categories() -> list[str]:
    """Registered category names, sorted."""
    from . import categories  # noqa: F401  (registers the built-in generators)

    return sorted(_CATEGORIES)


def get_category(name: str) -> Category:
    choices = list_categories()
    if name not in _CATEGORIES:
        raise UnknownCategoryError(
            f"unknown shape category {name!r}; choose one of: {', '.join(choices)}"
        )
    return _CATEGORIES[name]


def generate_shape(
    category: str, seed: int, *, margin: float = 0.1, n_captions: int = 4
) -> ProceduralShape:
    """The shape of ``category`` for ``seed``: the same arguments always give the same shape.

    ``margin`` is the empty border left inside [-1, 1]^3 along the longest side.
    """
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), not {margin}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, not {seed}")
    spec = get_category(category)
    # The category's name is mixed into the seed, so seed 0 of two categories is unrelated.
    rng = np.random.default_rng([seed, zlib.crc32(category.encode())])
    design = Design(rng, spec.noun, spec.synonyms)
    spec.generator(design)
    return design.finish(category, seed, margin, n_captions)
