"""Why a webhook request was refused; each maps to a 4xx JSON error (see app.errors)."""

from __future__ import annotations

from app.errors import BadRequest, Forbidden


class InvalidSignature(Forbidden):
    """X-Hub-Signature-256 is missing, malformed, or not the HMAC of the body."""

    error = "invalid_signature"


class VerificationFailed(Forbidden):
    """The subscription handshake had the wrong mode or verify token."""

    error = "verification_failed"


class MalformedJSON(BadRequest):
    """The body is not JSON."""

    error = "malformed_json"


class NotAWhatsAppWebhook(BadRequest):
    """JSON, but not a WhatsApp Business Account webhook (wrong object, no entry list)."""

    error = "not_a_whatsapp_webhook"
