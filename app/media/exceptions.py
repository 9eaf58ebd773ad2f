"""Errors of the media domain: HTTP-facing ones (DomainError) and download/storage ones."""

from __future__ import annotations

from typing import Any

from app.errors import DomainError
from app.outbound.graph import GraphAPIError


class MediaNotFound(DomainError):
    """No message with this wamid, or the message carries no media."""

    status_code = 404
    error = "not_found"


class MediaNotStored(DomainError):
    """The message has media, but its file is not stored (yet, or ever)."""

    status_code = 404
    error = "media_not_stored"

    def __init__(self, message_id: str, state: str | None, reason: str | None) -> None:
        if state == "failed":
            detail = f"the media of {message_id} could not be stored: {reason or 'unknown'}"
        else:
            detail = f"the media of {message_id} is not stored yet (state: {state or 'unknown'})"
        super().__init__(detail, media_state=state, media_error=reason)


class UploadFileMissing(DomainError):
    """An upload request without a file part."""

    status_code = 422
    error = "validation_error"


class UploadTooLarge(DomainError):
    """An upload over Meta's limit for its media type (or over every type's limit)."""

    status_code = 413
    error = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """An upload whose MIME type Meta does not take."""

    status_code = 415
    error = "unsupported_media_type"


class MetaRejectedUpload(DomainError):
    """Meta refused or failed an upload; the body carries Meta's code and message.

    Meta's verdict on the request itself (a bad parameter, an unsupported file) is a
    400; rate limits are a 429; anything else (Meta down, our token refused) is a 502,
    since the caller's request was fine and the fault lies upstream.
    """

    error = "meta_error"

    def __init__(self, exc: GraphAPIError) -> None:
        self.status_code = _status_for(exc)
        meta: dict[str, Any] = {
            "code": exc.code,
            "subcode": exc.subcode,
            "message": exc.message,
            "details": exc.details,
        }
        super().__init__(f"Meta refused the upload: {exc.message}", meta=meta)


_RATE_LIMIT_CODES = frozenset({4, 80007, 130429})
_AUTH_CODES = frozenset({190})


def _status_for(exc: GraphAPIError) -> int:
    if exc.code in _RATE_LIMIT_CODES or exc.http_status == 429:
        return 429
    if exc.retryable or exc.code in _AUTH_CODES or exc.http_status in (None, 401, 403):
        return 502
    if exc.http_status is not None and 400 <= exc.http_status < 500:
        return 400
    return 502


class StorageError(Exception):
    """The media store failed."""


class StoredFileMissing(StorageError):
    """No stored file under this key."""


class MediaRejected(Exception):
    """A download that must not be kept: too large, or not what Meta said it is."""


class MediaTooLarge(MediaRejected):
    """The file is over Meta's limit for its media type."""


class ChecksumMismatch(MediaRejected):
    """The downloaded bytes do not hash to the sha256 Meta gave."""
