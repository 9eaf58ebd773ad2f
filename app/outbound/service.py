"""The send rules: whom a message goes to, the 24-hour rule, calling Meta, storing what went.

No database transaction is held open while Meta is called (on SQLite a write transaction
locks every other writer): what a send needs is read and committed first, Meta is called,
and the sent message is stored in a new transaction. Meta's "sent" webhook can arrive
before its answer to the send; the status is then already stored and is applied as soon
as the message row exists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.changes import bodies
from app.changes.repository import ChangeRepository
from app.config import Settings
from app.conversations.exceptions import ConversationNotFound
from app.conversations.repository import ConversationRepository
from app.errors import DomainError
from app.jobs import kinds
from app.jobs.repository import JobRepository
from app.jobs.schemas import JobOut
from app.messages.repository import MessageRepository
from app.messages.schemas import MessageOut
from app.models import Conversation, Direction, IdempotencyKey, Message, MessageStatus
from app.outbound.exceptions import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidSendRequest,
    NoRecipient,
    OutsideCustomerServiceWindow,
    meta_error,
    never_reached_meta,
)
from app.outbound.graph import GraphAPIError
from app.outbound.repository import IdempotencyKeyRepository
from app.outbound.schemas import SendRequest, TextMessage
from app.runtime import Runtime
from app.statuses.repository import StatusRepository

# Free-form messages may be sent only this long after the customer's last message.
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Recipient:
    """Where a message goes: the business number it leaves from and the customer."""

    phone_number_id: str
    conversation_id: int | None
    phone_number: str | None
    user_id: str | None

    def graph_fields(self) -> dict[str, str]:
        """The addressing part of the Graph API payload.

        The number when known; else Meta's business-scoped user id (`recipient`), for
        customers who hide their number behind a username.
        """
        if self.phone_number:
            return {"recipient_type": "individual", "to": self.phone_number}
        assert self.user_id is not None
        return {"recipient_type": "individual", "recipient": self.user_id}


@dataclass(frozen=True)
class SendOutcome:
    """The HTTP answer to a send: 201 with the message, 202 with the job, or a replay."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def request_fingerprint(request: SendRequest) -> str:
    """A hash of the parsed request, so key order and spacing do not make it "different"."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def api_key_name(idempotency_key: str) -> str:
    """The stored name of a client's Idempotency-Key."""
    return f"api:{idempotency_key}"


def job_key_name(job_id: int) -> str:
    """The stored name under which a send job records that it sent its message."""
    return f"job:{job_id}"


def check_window(conversation: Conversation | None, now: datetime) -> None:
    """Raise OutsideCustomerServiceWindow unless the customer wrote in the last 24 hours."""
    last = conversation.last_inbound_at if conversation is not None else None
    if last is None or now - last >= CUSTOMER_SERVICE_WINDOW:
        raise OutsideCustomerServiceWindow(last.isoformat() if last else None)


async def resolve_recipient(
    session: AsyncSession, settings: Settings, request: SendRequest, *, now: datetime
) -> Recipient:
    """Find the request's conversation and apply the 24-hour rule to free-form messages.

    A template may go to a number with no conversation yet; the conversation is then
    created when the sent message is stored.
    """
    conversations = ConversationRepository(session)
    conversation: Conversation | None
    if request.conversation_id is not None:
        conversation = await conversations.get_by_id(request.conversation_id)
        if conversation is None:
            raise ConversationNotFound.by_id(request.conversation_id)
    else:
        assert request.to is not None
        conversation = await conversations.get_by_phone_number(
            settings.whatsapp_phone_number_id, request.to
        )
    if not request.is_template:
        check_window(conversation, now)
    if conversation is None:
        return Recipient(settings.whatsapp_phone_number_id, None, request.to, None)
    if not conversation.phone_number and not conversation.user_id:
        raise NoRecipient(f"conversation {conversation.id} has no phone number or user id")
    return Recipient(
        phone_number_id=conversation.phone_number_id or settings.whatsapp_phone_number_id,
        conversation_id=conversation.id,
        phone_number=conversation.phone_number,
        user_id=conversation.user_id,
    )


def graph_payload(request: SendRequest, recipient: Recipient) -> dict[str, Any]:
    """The body of POST /{phone_number_id}/messages for this request."""
    payload: dict[str, Any] = {
        **recipient.graph_fields(),
        "type": request.type,
        request.type: request.content(),
    }
    if request.reply_to is not None:
        payload["context"] = {"message_id": request.reply_to}
    return payload


def message_body(message: Message) -> dict[str, Any]:
    """The JSON of a stored message, as the messages API shows it."""
    return MessageOut.model_validate(message).model_dump(mode="json")


def _sent_wamid(answer: dict[str, Any]) -> str:
    messages = answer.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        wamid = messages[0].get("id")
        if isinstance(wamid, str) and wamid:
            return wamid
    raise GraphAPIError("the Graph API accepted the message but returned no message id")


async def store_sent(
    session: AsyncSession,
    request: SendRequest,
    recipient: Recipient,
    *,
    wamid: str,
    payload: dict[str, Any],
    now: datetime,
) -> Message:
    """Store a message Meta accepted, count it, and apply statuses that came first.

    Stored once per wamid: a second call for the same wamid changes nothing.
    """
    conversations = ConversationRepository(session)
    conversation_id = recipient.conversation_id
    if conversation_id is None:
        conversation_id = await conversations.upsert_customer(
            phone_number_id=recipient.phone_number_id,
            phone_number=recipient.phone_number,
            user_id=recipient.user_id,
            contact_name=None,
        )
    row: dict[str, Any] = {
        "message_id": wamid,
        "conversation_id": conversation_id,
        "direction": Direction.OUTBOUND,
        "phone_number_id": recipient.phone_number_id,
        "to_number": recipient.phone_number,
        "user_id": recipient.user_id,
        "message_type": request.type,
        "context_message_id": request.reply_to,
        "timestamp": now,
        "status": MessageStatus.ACCEPTED,
        "status_at": now,
        "notes": "",
        "raw": payload,
        **request.columns(),
    }
    messages = MessageRepository(session)
    new = wamid in await messages.insert_ignore([row])
    if new:
        await conversations.add_messages(conversation_id, count=1, unread=0, last_message_at=now)
        await StatusRepository(session).apply_stored(wamid)
    message = await messages.get_by_message_id(wamid)
    assert message is not None
    if new:
        await ChangeRepository(session).add(bodies.message_sent(message), now=now)
    return message


async def deliver(
    runtime: Runtime,
    request: SendRequest,
    recipient: Recipient,
    *,
    now: datetime,
    key: str | None = None,
    fingerprint: str = "",
) -> Message:
    """Call Meta, then store the sent message (and, under `key`, the answer to replay).

    The message is stored as sent at `now`, the time of the send. Raises GraphAPIError
    when Meta refuses or fails; nothing is stored then.
    """
    payload = graph_payload(request, recipient)
    answer = await runtime.graph.send_message(recipient.phone_number_id, payload)
    wamid = _sent_wamid(answer)
    async with runtime.sessions.begin() as session:
        message = await store_sent(
            session, request, recipient, wamid=wamid, payload=payload, now=now
        )
        if key is not None:
            await IdempotencyKeyRepository(session).record(
                key, fingerprint, status_code=201, response=message_body(message)
            )
    return message


def _worth_retrying_unsent(exc: GraphAPIError, error: DomainError) -> bool:
    """Whether Meta certainly did not send the message and a later try can succeed.

    A rate or capacity limit (Meta refused, and asks to come back later) or a request
    that never reached Meta. Its key is released, so the caller's retry sends.
    """
    return never_reached_meta(exc) or (exc.retryable and error.status_code == 429)


def _replay(stored: IdempotencyKey | None, fingerprint: str) -> SendOutcome:
    """The first answer given under a key that this request found already claimed."""
    if stored is not None and stored.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    if stored is None or stored.status_code is None:
        raise IdempotencyKeyInProgress()
    return SendOutcome(stored.status_code, dict(stored.response or {}), replayed=True)


async def send(
    runtime: Runtime,
    request: SendRequest,
    *,
    now: datetime,
    idempotency_key: str | None = None,
) -> SendOutcome:
    """Send now (201 with the stored message) or queue the send (202 with the job).

    With an Idempotency-Key the key is claimed before Meta is called, so of several
    requests with the same key only one sends; the others get its answer (or 409 while it
    is still running, 422 if their body differs). Meta's refusals and failures are
    recorded under the key too (after a timeout the message may have gone out): a retry
    with the same key gets the same error, never a second send. Only when the message
    certainly did not go out and a retry can help (Meta's rate limits, Meta not reached)
    is the key released, so that the retry Meta asked for sends. A request refused before
    Meta is called (validation, the 24-hour rule) claims nothing. Should the service die
    between Meta's answer and storing it, the key stays in progress for good, for the
    same reason: a new key is the caller's explicit decision to send again.
    """
    key = api_key_name(idempotency_key) if idempotency_key is not None else None
    fingerprint = request_fingerprint(request)
    async with runtime.sessions.begin() as session:
        keys = IdempotencyKeyRepository(session)
        if key is not None and not await keys.claim(key, fingerprint):
            return _replay(await keys.get_by_key(key), fingerprint)
        recipient = await resolve_recipient(session, runtime.settings, request, now=now)
        if request.queued:
            job = await JobRepository(session).enqueue(
                kinds.SEND_MESSAGE,
                {"request": request.model_dump(mode="json")},
                max_attempts=runtime.settings.job_max_attempts,
                run_after=now,
            )
            outcome = SendOutcome(202, JobOut.model_validate(job).model_dump(mode="json"))
            if key is not None:
                await keys.record(key, fingerprint, status_code=202, response=outcome.body)
            return outcome
    try:
        message = await deliver(
            runtime, request, recipient, now=now, key=key, fingerprint=fingerprint
        )
    except GraphAPIError as exc:
        error = meta_error(exc)
        if key is not None:
            async with runtime.sessions.begin() as session:
                keys = IdempotencyKeyRepository(session)
                if _worth_retrying_unsent(exc, error):
                    await keys.release(key)
                else:
                    await keys.record(
                        key, fingerprint, status_code=error.status_code, response=error.body()
                    )
        raise error from exc
    return SendOutcome(201, message_body(message))


async def send_now(runtime: Runtime, request: SendRequest, *, now: datetime) -> Message:
    """Send at once and return the stored message; Meta's failures become API errors.

    Raises OutsideCustomerServiceWindow when a free-form message is not allowed at `now`.
    """
    async with runtime.sessions.begin() as session:
        recipient = await resolve_recipient(session, runtime.settings, request, now=now)
    try:
        return await deliver(runtime, request, recipient, now=now)
    except GraphAPIError as exc:
        raise meta_error(exc) from exc


async def send_text(runtime: Runtime, conversation_id: int, body: str, *, now: datetime) -> Message:
    """Answer a conversation with a text (the admin panel's reply box).

    Raises InvalidSendRequest for an empty or too long text, ConversationNotFound,
    OutsideCustomerServiceWindow, or Meta's error as MetaRejected / MetaUnavailable.
    """
    try:
        request = TextMessage(type="text", conversation_id=conversation_id, body=body)
    except ValidationError as exc:
        raise InvalidSendRequest.from_validation(exc) from exc
    return await send_now(runtime, request, now=now)


async def send_job(
    runtime: Runtime, request: SendRequest, job_id: int, *, now: datetime
) -> dict[str, Any]:
    """Send for a background job, at most once per job even when the job runs again.

    The 24-hour rule is applied at `now`, the time the job runs, not when it was queued.
    The message is stored together with a record under the job's key; a rerun (its
    worker died after sending) finds the record and does not send again. Returns the
    job's result: the stored message's id and wamid.
    """
    key = job_key_name(job_id)
    async with runtime.sessions.begin() as session:
        done = await IdempotencyKeyRepository(session).get_by_key(key)
        if done is not None and isinstance(done.response, dict):
            return {"id": done.response.get("id"), "message_id": done.response.get("message_id")}
        recipient = await resolve_recipient(session, runtime.settings, request, now=now)
    message = await deliver(runtime, request, recipient, now=now, key=key, fingerprint=key)
    return {"id": message.id, "message_id": message.message_id}
