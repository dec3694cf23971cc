"""The built-in categories; importing this package registers them."""

from . import buildings, furniture, household, nature, tools, vehicles  # noqa: F401
