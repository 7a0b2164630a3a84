"""API key secrets: `<key id>.<43 random url-safe characters>`. Only a SHA-256
digest is stored (the secret has 256 bits of entropy, so a slow hash adds
nothing); digests are compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from server.core.ids import new_id


def new_secret() -> tuple[str, str]:
    """A new (key id, secret) pair."""
    key_id = new_id("key")
    return key_id, f"{key_id}.{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(secret: str) -> str | None:
    """The key id a secret claims, or None when it is malformed."""
    key_id, dot, rest = secret.partition(".")
    if not dot or len(rest) < 32 or len(secret) > 200 or not key_id.startswith("key_"):
        return None
    return key_id


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
