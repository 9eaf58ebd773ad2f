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
from app.jobs.exceptions import UncertainJobError
from app.jobs.repository import JobRepository
from app.jobs.schemas import JobOut
from app.message_templates.service import check_send
from app.messages.repository import MessageRepository
from app.messages.schemas import MessageOut
from app.models import Conversation, Direction, IdempotencyKey, Job, Message, MessageStatus
from app.outbound.exceptions import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidSendRequest,
    NoRecipient,
    OutsideCustomerServiceWindow,
    may_have_been_sent,
    meta_error,
    never_reached_meta,
)
from app.outbound.graph import GraphAPIError
from app.outbound.repository import IdempotencyKeyRepository
from app.outbound.schemas import SendRequest, TemplateMessage, TextMessage
from app.phone import is_user_id
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
    # A template's text as the customer reads it (stored as the sent message's text).
    rendered_text: str | None = None

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
    fields = request.model_dump(mode="json")
    # Left out when not given, so keys recorded before `from` existed still replay.
    if fields.get("from_") is None:
        fields.pop("from_", None)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
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


def _sender(settings: Settings, request: SendRequest, conversation: Conversation | None) -> str:
    """The phone_number_id a send leaves from: the conversation's number (a reply goes out
    from the number the customer wrote to), else `from`, else the default number."""
    named = settings.business_number(request.from_).id if request.from_ is not None else None
    if conversation is not None and conversation.phone_number_id:
        if named is not None and named != conversation.phone_number_id:
            raise InvalidSendRequest(
                f"from: conversation {conversation.id} is with business number "
                f"{settings.number_named(conversation.phone_number_id).name}; its replies "
                "go out from that number (leave `from` out, or name that number)"
            )
        return conversation.phone_number_id
    return named or settings.whatsapp_phone_number_id


async def resolve_recipient(
    session: AsyncSession, settings: Settings, request: SendRequest, *, now: datetime
) -> Recipient:
    """Find the request's conversation and apply the 24-hour rule to free-form messages.

    `to` names a customer by number or by business-scoped user id, on the number given
    in `from` (or the default one). A template may go to a customer with no conversation
    yet; the conversation is then created when the sent message is stored.
    """
    conversations = ConversationRepository(session)
    conversation: Conversation | None
    if request.conversation_id is not None:
        conversation = await conversations.get_by_id(request.conversation_id)
        if conversation is None:
            raise ConversationNotFound.by_id(request.conversation_id)
    else:
        assert request.to is not None
        from_id = _sender(settings, request, None)
        conversation = await conversations.get_by_customer(from_id, request.to)
    phone_number_id = _sender(settings, request, conversation)
    if not request.is_template:
        check_window(conversation, now)
    rendered = await _checked_template(session, settings, request)
    if conversation is None:
        assert request.to is not None
        if is_user_id(request.to):
            return Recipient(phone_number_id, None, None, request.to, rendered)
        return Recipient(phone_number_id, None, request.to, None, rendered)
    if not conversation.phone_number and not conversation.user_id:
        raise NoRecipient(f"conversation {conversation.id} has no phone number or user id")
    return Recipient(
        phone_number_id=phone_number_id,
        conversation_id=conversation.id,
        phone_number=conversation.phone_number,
        user_id=conversation.user_id,
        rendered_text=rendered,
    )


async def _checked_template(
    session: AsyncSession, settings: Settings, request: SendRequest
) -> str | None:
    """A template send's text, once checked against the synced templates; None for
    other messages, and when no business account is configured (nothing is synced
    then, and Meta alone judges the template)."""
    if not isinstance(request, TemplateMessage) or not settings.whatsapp_business_account_id:
        return None
    return await check_send(session, request.name, request.language, request.components)


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
    raise GraphAPIError(
        "the Graph API accepted the message but returned no message id", http_status=200
    )


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
    if recipient.rendered_text is not None:
        row["text_body"] = recipient.rendered_text
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


async def call_meta(runtime: Runtime, recipient: Recipient, payload: dict[str, Any]) -> str:
    """Send `payload` through the Graph API; return the wamid Meta gave the message."""
    answer = await runtime.graph.send_message(recipient.phone_number_id, payload)
    return _sent_wamid(answer)


async def store_answer(
    runtime: Runtime,
    request: SendRequest,
    recipient: Recipient,
    *,
    wamid: str,
    payload: dict[str, Any],
    now: datetime,
    key: str | None = None,
    fingerprint: str = "",
) -> Message:
    """Store the message Meta accepted (and, under `key`, the answer to replay), in one
    transaction."""
    async with runtime.sessions.begin() as session:
        message = await store_sent(
            session, request, recipient, wamid=wamid, payload=payload, now=now
        )
        if key is not None:
            await IdempotencyKeyRepository(session).record(
                key, fingerprint, status_code=201, response=message_body(message)
            )
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
    wamid = await call_meta(runtime, recipient, payload)
    return await store_answer(
        runtime,
        request,
        recipient,
        wamid=wamid,
        payload=payload,
        now=now,
        key=key,
        fingerprint=fingerprint,
    )


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


async def send_template(
    runtime: Runtime,
    conversation_id: int,
    name: str,
    language: str,
    components: list[dict[str, Any]],
    *,
    now: datetime,
) -> Message:
    """Send a template to a conversation (the admin panel's template picker).

    Raises InvalidSendRequest, ConversationNotFound, TemplateNotSendable, or Meta's
    error as MetaRejected / MetaUnavailable.
    """
    try:
        request = TemplateMessage(
            type="template",
            conversation_id=conversation_id,
            name=name,
            language=language,
            components=components,
        )
    except ValidationError as exc:
        raise InvalidSendRequest.from_validation(exc) from exc
    return await send_now(runtime, request, now=now)


async def send_job(
    runtime: Runtime, request: SendRequest, job: Job, *, now: datetime
) -> dict[str, Any]:
    """Send for a background job, at most once per job even across a crash.

    The 24-hour rule is applied at `now`, the time the job runs, not when it was queued.
    Before Meta is called, the job records (and commits) that its send started; a run
    that finds a started send without a stored answer raises UncertainJobError instead
    of sending, as does a send whose answer was lost. Meta's refusals clear the record,
    so a retry may send. The message is stored together with a record under the job's
    key, which a rerun finds. Returns the job's result: the stored message's id and wamid.
    """
    key = job_key_name(job.id)
    worker_id = job.locked_by or ""
    async with runtime.sessions.begin() as session:
        done = await IdempotencyKeyRepository(session).get_by_key(key)
        if done is not None and isinstance(done.response, dict):
            return {"id": done.response.get("id"), "message_id": done.response.get("message_id")}
        recipient = await resolve_recipient(session, runtime.settings, request, now=now)
        if not await JobRepository(session).start_call(job.id, worker_id, now=now):
            raise UncertainJobError(
                "an earlier run of this job called Meta and its answer was never recorded: "
                "the message may have been sent; choose send again to send it anyway"
            )
    payload = graph_payload(request, recipient)
    try:
        wamid = await call_meta(runtime, recipient, payload)
    except GraphAPIError as exc:
        if may_have_been_sent(exc):
            raise UncertainJobError(
                f"the message may have been sent, Meta's answer was lost: {exc}"
            ) from exc
        async with runtime.sessions.begin() as session:
            await JobRepository(session).end_call(job.id, worker_id)
        raise
    message = await store_answer(
        runtime, request, recipient, wamid=wamid, payload=payload, now=now, key=key, fingerprint=key
    )
    return {"id": message.id, "message_id": message.message_id}
