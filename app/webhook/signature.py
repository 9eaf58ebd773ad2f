"""Authenticity of webhook requests: Meta's body signature and the subscription handshake."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from app.config import Settings
from app.webhook.exceptions import InvalidSignature, VerificationFailed

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def expected_signature(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `body` under the app secret, as Meta computes it."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def verified_body(request: Request, settings: Settings) -> bytes:
    """The exact raw body, once its X-Hub-Signature-256 proves it came from Meta.

    Raises InvalidSignature (403) when the header is missing, malformed or wrong, before
    anything is parsed or stored. The comparison takes constant time.
    """
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    if not header.startswith(_PREFIX):
        raise InvalidSignature(f"malformed {SIGNATURE_HEADER} header: expected sha256=<hex>")
    secret = settings.whatsapp_app_secret.get_secret_value()
    body = await request.body()
    # Without a configured secret nothing can be authentic.
    offered = header[len(_PREFIX) :].strip().lower().encode()
    expected = expected_signature(secret, body).encode()
    if not secret or not hmac.compare_digest(offered, expected):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body")
    return body


def subscription_challenge(
    settings: Settings, mode: str | None, token: str | None, challenge: str | None
) -> str:
    """The challenge to echo when Meta subscribes with the right verify token.

    Raises VerificationFailed (403) for any other mode, a wrong or missing token, or a
    missing challenge. The token comparison takes constant time.
    """
    configured = settings.whatsapp_verify_token.get_secret_value()
    if mode != "subscribe":
        raise VerificationFailed("hub.mode must be subscribe")
    if (
        not configured
        or token is None
        or not hmac.compare_digest(token.encode(), configured.encode())
    ):
        raise VerificationFailed("hub.verify_token does not match")
    if not challenge:
        raise VerificationFailed("hub.challenge is missing")
    return challenge
