"""Errors of sending: the 24-hour rule, Meta's refusals and idempotency-key misuse."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from app.errors import DomainError
from app.outbound.graph import GraphAPIError

# Meta's codes that are the caller's to fix, and the HTTP status each becomes.
_CLIENT_ERROR_STATUS = {
    100: 422,  # invalid parameter
    131008: 422,  # required parameter missing
    131009: 422,  # parameter value not valid
    131021: 422,  # recipient cannot be the sender
    131026: 422,  # message undeliverable
    131047: 409,  # re-engagement: more than 24 hours since the customer wrote
    131048: 429,  # spam rate limit
    131050: 422,  # the customer stopped marketing messages
    131051: 422,  # unsupported message type
    131052: 422,  # media download error
    131053: 422,  # media upload error
    131062: 422,  # business-scoped user id recipients not supported for this message
}
# Rate and capacity limits: the caller may try again later.
_RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131056, 131057})
# Template errors are all 132xxx.
_TEMPLATE_ERROR_RANGE = range(132000, 133000)


class OutsideCustomerServiceWindow(DomainError):
    """A free-form message to a customer who has not written in the last 24 hours."""

    status_code = 409
    error = "outside_customer_service_window"

    def __init__(self, last_inbound_at: str | None) -> None:
        when = f"last wrote at {last_inbound_at}" if last_inbound_at else "has never written"
        super().__init__(
            f"the customer {when}, which is outside the 24-hour customer service window; "
            "a template message is needed to start a new conversation",
            last_inbound_at=last_inbound_at,
        )


class NoRecipient(DomainError):
    """The conversation has neither a phone number nor a user id to send to."""

    status_code = 422
    error = "no_recipient"


class InvalidSendRequest(DomainError):
    """A message built in code (not parsed from a request) breaks Meta's limits."""

    status_code = 422
    error = "validation_error"

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidSendRequest:
        """The error for a failed validation, naming each field and what is wrong."""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
            for err in exc.errors()
        )
        return cls(problems or "invalid message")


class MetaRejected(DomainError):
    """Meta refused the message for a reason the caller can act on (a 4xx)."""

    error = "meta_rejected"

    def __init__(self, exc: GraphAPIError, status_code: int) -> None:
        super().__init__(f"Meta refused the message: {exc.message}", meta=exc.as_dict())
        self.status_code = status_code
        if exc.retry_after is not None:
            self.extra["retry_after"] = exc.retry_after


class MetaUnavailable(DomainError):
    """Meta failed, or could not be reached, so the outcome is not the caller's fault."""

    status_code = 502
    error = "meta_unavailable"

    def __init__(self, exc: GraphAPIError) -> None:
        super().__init__(f"the Graph API failed: {exc.message}", meta=exc.as_dict())


class MetaTimeout(DomainError):
    """Meta did not answer in time: the message may or may not have been sent."""

    status_code = 504
    error = "meta_timeout"

    def __init__(self, exc: GraphAPIError) -> None:
        super().__init__(
            "the Graph API did not answer in time; the message may or may not have been sent",
            meta=exc.as_dict(),
        )


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came with a different request body."""

    status_code = 422
    error = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request"
        )


class IdempotencyKeyInProgress(DomainError):
    """A request with the same Idempotency-Key has not finished yet."""

    status_code = 409
    error = "idempotency_key_in_progress"

    def __init__(self) -> None:
        super().__init__(
            "a request with this Idempotency-Key is still being processed; "
            "retry later to get its result"
        )


# Transport failures before the request leaves: Meta never saw it.
_UNSENT_TRANSPORT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def never_reached_meta(exc: GraphAPIError) -> bool:
    """Whether the call failed before its request reached Meta (nothing can have been sent)."""
    return isinstance(exc.__cause__, _UNSENT_TRANSPORT_ERRORS)


def may_have_been_sent(exc: GraphAPIError) -> bool:
    """Whether a failed send may still have gone out, Meta's answer being lost.

    Meta's error answer (4xx, 5xx) says the message was not sent, and a request that never
    left sent nothing; a timeout or a dropped connection after the request left, or a
    success answer that cannot be read, leaves it unknown.
    """
    if exc.http_status is not None:
        return exc.http_status < 400
    return isinstance(exc.__cause__, httpx.TransportError) and not never_reached_meta(exc)


def meta_error(exc: GraphAPIError) -> DomainError:
    """The API error a failed Graph API call becomes: 4xx for the caller's, 5xx for Meta's."""
    if isinstance(exc.__cause__, httpx.TimeoutException) and not never_reached_meta(exc):
        return MetaTimeout(exc)
    code = exc.code
    if code in _CLIENT_ERROR_STATUS:
        return MetaRejected(exc, _CLIENT_ERROR_STATUS[code])
    if code in _RATE_LIMIT_CODES or exc.http_status == 429:
        return MetaRejected(exc, 429)
    if code is not None and code in _TEMPLATE_ERROR_RANGE:
        return MetaRejected(exc, 422)
    if exc.http_status == 400 and not exc.retryable:
        return MetaRejected(exc, 422)
    # Anything else (5xx, transient codes 1/2/131000/131016, an expired token 190 or a
    # missing permission, which Meta answers with 401/403, our own refusal to send the
    # token to a foreign host) is not something the caller can fix.
    return MetaUnavailable(exc)
