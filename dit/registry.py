"""DiT variants by name: ``@register_dit("name")`` on a class, ``build_dit`` / ``load_dit``.

Training and sampling look variants up here and never branch on them, so a researcher's own
variant (subclass ``LatentDiT``, decorate, import) trains and samples like the built-in ones.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T", bound=type)

DIT_VARIANTS: dict[str, type] = {}


def register_dit(name: str) -> Callable[[T], T]:
    """Class decorator adding a variant under ``name``; a second class under one name raises."""

    def add(cls: T) -> T:
        existing = DIT_VARIANTS.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"DiT variant {name!r} is already registered by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
        DIT_VARIANTS[name] = cls
        cls.variant_name = name
        return cls

    return add


def dit_class(name: str) -> type:
    try:
        return DIT_VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown DiT variant {name!r}; registered: {', '.join(sorted(DIT_VARIANTS))}"
        ) from None


def check_dit_options(name: str, options: dict[str, Any]) -> None:
    """Raise ValueError for options the named variant does not take (typos fail early)."""
    known = set(inspect.signature(dit_class(name).__init__).parameters) - {"self"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"unknown options {unknown} for DiT variant {name!r}; known: {sorted(known)}"
        )


def build_dit(name: str, **options: Any) -> Any:
    check_dit_options(name, options)
    return dit_class(name)(**options)


def load_dit(path: str | Path) -> Any:
    """A DiT saved with ``save_pretrained``, whichever registered variant it is."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path} is not a saved DiT (no config.json)")
    class_name = json.loads(config_file.read_text(encoding="utf-8")).get("_class_name")
    for cls in DIT_VARIANTS.values():
        if cls.__name__ == class_name:
            return cls.from_pretrained(path)
    raise ValueError(
        f"{path} holds a {class_name}, which is not a registered DiT variant "
        "(import the module that registers it first)"
    )
