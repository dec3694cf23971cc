"""The base of every error gen3d raises on purpose for bad input or a bad environment.

The CLI prints these as one clear line (no traceback); the server turns them into RFC 9457
problem details. Anything else that escapes is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class Gen3DError(Exception):
    """An error the user can fix: the message names the input and the problem."""

    #: exit status of the CLI when this error ends a command (2: bad usage or settings).
    exit_code: int = 1


#: what Pillow raises while decoding a damaged image: OSError (UnidentifiedImageError and
#: "broken data stream" among them), SyntaxError for a broken PNG chunk, ValueError or
#: EOFError for some truncated data.
IMAGE_DECODE_ERRORS: tuple[type[BaseException], ...] = (OSError, SyntaxError, ValueError, EOFError)


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` is most likely a typo of (``texure_size``: ``texture_size``),
    or None: for "did you mean" hints on unknown options, keys and columns."""
    matches = difflib.get_close_matches(name, list(known), n=1)
    return matches[0] if matches else None


def unknown_names(what: str, unknown: Iterable[str], known: Iterable[str]) -> str:
    """``unknown options ['texure_size'] (did you mean 'texture_size'?); known: [...]``: most
    unknown names in hand-written input are typos of a known one."""
    unknown, known = sorted(unknown), sorted(known)
    guesses = {name: closest_name(name, known) for name in unknown}
    if len(unknown) == 1:
        hints = [repr(guess) for guess in guesses.values() if guess]
    else:
        hints = [f"{guess!r} for {name!r}" for name, guess in guesses.items() if guess]
    meant = f" (did you mean {', '.join(hints)}?)" if hints else ""
    return f"unknown {what} {unknown}{meant}; known: {known}"
