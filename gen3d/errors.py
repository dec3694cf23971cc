"""The base of every error gen3d raises on purpose for bad input or a bad environment.

The CLI prints these as one clear line (no traceback); the server turns them into RFC 9457
problem details. Anything else that escapes is a bug.
"""

from __future__ import annotations


class Gen3DError(Exception):
    """An error the user can fix: the message names the input and the problem."""

    #: exit status of the CLI when this error ends a command (2: bad usage or settings).
    exit_code: int = 1


#: what Pillow raises while decoding a damaged image: OSError (UnidentifiedImageError and
#: "broken data stream" among them), SyntaxError for a broken PNG chunk, ValueError or
#: EOFError for some truncated data.
IMAGE_DECODE_ERRORS: tuple[type[BaseException], ...] = (OSError, SyntaxError, ValueError, EOFError)
