"""API keys for the service: made here, stored only as hashes (``GEN3D_API_KEYS``).

A key is 32 random bytes, URL-safe base64 with a ``g3d_`` prefix (so that secret scanners and
people can tell what it is). The service keeps ``sha256:<hex>`` of each key: a leaked
settings file gives no key away. Keys are long and random, so a plain SHA-256 suffices (slow
password hashes are for guessable secrets).

Example::

    >>> key = new_api_key()
    >>> key.startswith("g3d_") and hash_api_key(key).startswith("sha256:")
    True
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "g3d_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def key_owner(key_hash: str) -> str:
    """The owner name jobs made with a key are filed under (not secret, stable)."""
    return "key:" + key_hash.removeprefix("sha256:")[:16]
