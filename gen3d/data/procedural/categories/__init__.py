"""The built-in categories; importing this package registers them."""

from . import (
    furniture,  # noqa: F401
    household,  # noqa: F401
)
