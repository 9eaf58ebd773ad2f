"""Signing webhook bodies the way Meta does."""

from __future__ import annotations

import hashlib
import hmac


def signature(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 header value Meta sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
