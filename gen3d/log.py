"""Logging set-up for the entry points.

Library modules only do ``logger = logging.getLogger(__name__)``; the CLI (Rich handler) and the
server (plain handler, fit for log collectors) call :func:`configure_logging` once at start-up.
Importing gen3d never touches the root logger.
"""

from __future__ import annotations

import logging
import sys

# Names of the loggers gen3d owns: one per top-level package of the distribution.
PACKAGE_LOGGERS = ("gen3d", "vae", "dit", "render", "server")

# The name our handler carries, so a second call can find and replace it.
HANDLER_NAME = "gen3d"

_PLAIN_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


def configure_logging(level: str | int = "INFO", *, rich: bool = True) -> None:
    """Send gen3d's log records to stderr at ``level``.

    Args:
        level: a logging level name ("DEBUG", "INFO", ...) or number.
        rich: colourful, aligned output for people at a terminal (the CLI); ``False`` gives
            one plain timestamped line per record (services, files, CI).
    """
    if isinstance(level, str):
        level = level.upper()
    handler: logging.Handler
    if rich:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(
            console=Console(stderr=True),
            show_path=False,
            rich_tracebacks=False,
            markup=False,
            log_time_format="[%X]",
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_PLAIN_FORMAT))
    handler.set_name(HANDLER_NAME)

    for name in PACKAGE_LOGGERS:
        logger = logging.getLogger(name)
        # Replace our own handler on a second call instead of printing every record twice.
        for old in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
