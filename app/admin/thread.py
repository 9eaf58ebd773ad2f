"""A conversation as a chat: its messages in time order, media inline, statuses shown,
and a reply box that sends text through the same service as the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from markupsafe import Markup
from sqladmin import ModelView
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from app.admin.base import business_zone, format_time
from app.admin.media import media_markup
from app.admin.repository import AdminRepository
from app.calls.repository import CallRepository
from app.changes import service as changes
from app.changes.endpoints import (
    EVENT_STREAM,
    STREAM_HEADERS,
    parse_last_event_id,
)
from app.changes.exceptions import InvalidLastEventId
from app.conversations.exceptions import ConversationNotFound
from app.conversations.repository import ConversationRepository
from app.errors import DomainError
from app.message_templates.parameters import components_for, slots
from app.message_templates.repository import TemplateRepository
from app.message_templates.service import APPROVED
from app.messages.repository import MessageFilters, MessageRepository
from app.messages.service import mark_read
from app.models import (
    MAX_ID,
    Call,
    CallStatus,
    Conversation,
    Direction,
    Message,
    MessageStatusUpdate,
    MessageTemplate,
)
from app.outbound.exceptions import OutsideCustomerServiceWindow
from app.outbound.schemas import MAX_TEXT_BODY
from app.outbound.service import CUSTOMER_SERVICE_WINDOW, send_template, send_text
from app.pagination import Cursor, InvalidCursor, decode_cursor, encode_cursor
from app.runtime import Runtime

THREAD_TEMPLATE = "inbox/thread.html"
THREAD_ROUTE = "admin:view-conversation-thread"
REPLY_ROUTE = "admin:view-conversation-reply"
TEMPLATE_ROUTE = "admin:view-conversation-send_template"
BUSINESS_INITIATED = "BUSINESS_INITIATED"
ITEMS_ROUTE = "admin:view-conversation-thread_items"
NOTES_ROUTE = "admin:view-conversation-notes"
LIVE_ROUTE = "admin:view-conversation-live"
ITEMS_TEMPLATE = "inbox/thread_items.html"
CURSOR_LIST = "admin-thread"
PAGE_SIZE = 100


def admin_runtime(request: Request) -> Runtime:
    """The process's Runtime, which mount_admin put on the admin app's state."""
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass
class ThreadItem:
    """One message of the thread with what the page shows beside it."""

    message: Message
    outbound: bool
    media: Markup
    statuses: list[MessageStatusUpdate]
    time: str
    errors: str
    note_url: str
    kind: str = "message"

    @property
    def at(self) -> tuple[datetime, int, int]:
        """Its place in the thread."""
        return (self.message.timestamp, 1, self.message.id)


@dataclass
class CallItem:
    """One call of the thread: who called, and how it ended."""

    call: Call
    outbound: bool
    time: str
    kind: str = "call"

    @property
    def at(self) -> tuple[datetime, int, int]:
        """Its place in the thread (before a message of the same second)."""
        return (self.call.timestamp, 0, self.call.id)

    @property
    def summary(self) -> str:
        """`Missed call`, `Call, 2 min 5 s`, `Ringing call`."""
        status = self.call.status
        if status == CallStatus.MISSED:
            return "Missed call"
        if status == CallStatus.COMPLETED:
            seconds = self.call.duration_seconds or 0
            minutes, rest = divmod(seconds, 60)
            return f"Call, {minutes} min {rest} s" if minutes else f"Call, {rest} s"
        return "Call ringing"


def error_text(errors: object) -> str:
    """Meta's errors of a failed message as one line: `title (code); …`."""
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors:
        if isinstance(error, dict):
            title = error.get("title") or error.get("message") or "error"
            parts.append(f"{title} ({error.get('code')})" if error.get("code") else str(title))
    return "; ".join(parts)


def window_closes_at(conversation: Conversation) -> datetime | None:
    """When the customer service window closes (None if the customer never wrote)."""
    if conversation.last_inbound_at is None:
        return None
    return conversation.last_inbound_at + CUSTOMER_SERVICE_WINDOW


def window_is_open(conversation: Conversation, now: datetime) -> bool:
    """Whether free text may be sent to the conversation at `now` (the 24-hour rule)."""
    closes_at = window_closes_at(conversation)
    return closes_at is not None and closes_at > now


def _text_of(template: MessageTemplate, kind: str) -> str:
    for component in template.components or []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == kind:
            text = component.get("text")
            return text if isinstance(text, str) else ""
    return ""


def picker_entry(template: MessageTemplate) -> dict[str, Any]:
    """What the template picker knows of a template: its texts and the parameters to ask."""
    return {
        "key": f"{template.name}|{template.language}",
        "name": template.name,
        "language": template.language,
        "category": template.category or "",
        "header": _text_of(template, "HEADER"),
        "body": _text_of(template, "BODY"),
        "footer": _text_of(template, "FOOTER"),
        "parameters": [
            {"component": s.component, "kind": s.kind, "name": s.name, "label": s.label}
            for s in slots(template.components or [])
        ],
    }


def picker_json(templates: list[MessageTemplate]) -> Markup:
    """The picker's templates as JSON safe inside a <script> element."""
    text = json.dumps([picker_entry(t) for t in templates], ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _conversation_id(request: Request) -> int:
    pk = str(request.path_params.get("pk", ""))
    if not pk.isdigit():
        raise HTTPException(status_code=404, detail=f"no conversation with id {pk!r}")
    return int(pk)


def _items_of(
    request: Request,
    page: list[Message],
    statuses: dict[str, list[MessageStatusUpdate]],
    calls: list[Call],
    zone: tzinfo,
) -> list[ThreadItem | CallItem]:
    """The thread's messages and calls, in time order."""
    items: list[ThreadItem | CallItem] = [
        CallItem(
            call=call,
            outbound=call.direction == BUSINESS_INITIATED,
            time=format_time(call.timestamp, zone),
        )
        for call in calls
    ]
    items += [
        ThreadItem(
            message=message,
            outbound=message.direction == Direction.OUTBOUND,
            media=media_markup(request, message),
            statuses=statuses.get(message.message_id, []),
            time=format_time(message.timestamp, zone),
            errors=error_text(message.errors),
            note_url=_note_url(request, message),
        )
        for message in reversed(page)
    ]
    items.sort(key=lambda item: item.at)
    return items


def _note_url(request: Request, message: Message) -> str:
    """The message's note form, which brings the agent back to this thread."""
    edit = request.url_for("admin:edit", identity="message", pk=str(message.id))
    back = request.url_for(THREAD_ROUTE, pk=str(message.conversation_id))
    return str(edit.include_query_params(next=back.path))


async def _mark_read_on_open(runtime: Runtime, conversation_id: int, now: datetime) -> None:
    """An agent looking at the thread has read it (unless the setting says otherwise)."""
    if runtime.settings.admin_mark_read_on_open:
        await _mark_read(runtime, conversation_id, now)


async def _mark_read(runtime: Runtime, conversation_id: int, now: datetime) -> None:
    async with runtime.sessions() as session:
        try:
            await mark_read(session, runtime.settings, now=now, conversation_id=conversation_id)
        except ConversationNotFound:
            return  # the page then says so
        await session.commit()


async def _load(
    request: Request, conversation_id: int, zone: tzinfo
) -> tuple[Conversation, list[ThreadItem | CallItem], str | None]:
    """The conversation, its newest page of messages (before the `before` cursor, if
    given) with the calls between them, oldest first, and the URL of the page before it
    (None on the first page)."""
    runtime = admin_runtime(request)
    before = request.query_params.get("before")
    try:
        after = decode_cursor(CURSOR_LIST, before) if before else None
    except InvalidCursor as exc:
        raise HTTPException(status_code=400, detail=exc.detail) from exc
    async with runtime.sessions() as session:
        conversation = await ConversationRepository(session).get_by_id(conversation_id)
        if conversation is None:
            raise HTTPException(status_code=404, detail=f"no conversation {conversation_id}")
        rows = await MessageRepository(session).list_newest_first(
            MessageFilters(conversation_id=conversation_id), limit=PAGE_SIZE + 1, after=after
        )
        page = rows[:PAGE_SIZE]
        statuses = await AdminRepository(session).statuses_by_message([m.message_id for m in page])
        # The calls between this page's oldest message (all earlier ones on the last
        # page) and the newer page's.
        calls = await CallRepository(session).list_in_conversation(
            conversation_id,
            since=page[-1].timestamp if len(rows) > PAGE_SIZE else None,
            before=after.at if after is not None else None,
        )
    earlier_url = None
    if len(rows) > PAGE_SIZE:
        oldest = page[-1]
        token = encode_cursor(CURSOR_LIST, Cursor(at=oldest.timestamp, id=oldest.id))
        earlier_url = str(request.url.include_query_params(before=token))
    return conversation, _items_of(request, page, statuses, calls, zone), earlier_url


async def _approved_templates(runtime: Runtime) -> list[MessageTemplate]:
    async with runtime.sessions() as session:
        return await TemplateRepository(session).list_all(status=APPROVED)


async def _render(
    view: ModelView,
    request: Request,
    conversation_id: int,
    *,
    now: datetime,
    error: str | None = None,
    draft: str = "",
    chosen_template: str = "",
    status_code: int = 200,
) -> Response:
    runtime = admin_runtime(request)
    zone = business_zone(request)
    conversation, items, earlier_url = await _load(request, conversation_id, zone)
    templates = await _approved_templates(runtime)
    closes_at = window_closes_at(conversation)
    live = request.query_params.get("before") is None
    context = {
        "title": conversation.contact_name or conversation.phone_number or "Conversation",
        "subtitle": conversation.phone_number or conversation.user_id or "",
        "conversation": conversation,
        "items": items,
        "earlier_url": earlier_url,
        "window_open": window_is_open(conversation, now),
        "window_closes_at": format_time(closes_at, zone),
        "last_inbound_at": format_time(conversation.last_inbound_at, zone),
        "reply_url": request.url_for(REPLY_ROUTE, pk=str(conversation_id)),
        "template_url": request.url_for(TEMPLATE_ROUTE, pk=str(conversation_id)),
        "templates": [picker_entry(t) for t in templates],
        "templates_json": picker_json(templates),
        "chosen_template": chosen_template,
        "business": runtime.settings.number_named(conversation.phone_number_id).name,
        "notes_url": request.url_for(NOTES_ROUTE, pk=str(conversation_id)),
        "items_url": request.url_for(ITEMS_ROUTE, pk=str(conversation_id)) if live else None,
        "live_url": request.url_for(LIVE_ROUTE).include_query_params(conversation=conversation_id)
        if live
        else None,
        "max_reply_length": MAX_TEXT_BODY,
        "error": error,
        "draft": draft,
        "sent": error is None and request.query_params.get("sent") == "1",
        "noted": request.query_params.get("noted") == "1",
        "format_time": lambda value: format_time(value, zone),
        "zone": zone,
    }
    response: Response = await view.templates.TemplateResponse(
        request, THREAD_TEMPLATE, context, status_code=status_code
    )
    return response


async def thread_page(view: ModelView, request: Request) -> Response:
    """The thread of the conversation named by the path's pk, newest page first; opening
    it marks the conversation read (ADMIN_MARK_READ_ON_OPEN)."""
    runtime = admin_runtime(request)
    now = runtime.clock()
    conversation_id = _conversation_id(request)
    if request.query_params.get("before") is None:
        await _mark_read_on_open(runtime, conversation_id, now)
    return await _render(view, request, conversation_id, now=now)


async def thread_items(view: ModelView, request: Request) -> Response:
    """The newest page of the thread alone, for the open page to swap in; what the agent
    now sees is read, as when the thread is opened."""
    runtime = admin_runtime(request)
    conversation_id = _conversation_id(request)
    await _mark_read_on_open(runtime, conversation_id, runtime.clock())
    zone = business_zone(request)
    conversation, items, earlier_url = await _load(request, conversation_id, zone)
    context = {
        "conversation": conversation,
        "items": items,
        "earlier_url": earlier_url,
        "zone": zone,
    }
    response: Response = await view.templates.TemplateResponse(request, ITEMS_TEMPLATE, context)
    response.headers["Cache-Control"] = "no-store"
    return response


async def save_conversation_notes(request: Request) -> Response:
    """Save the notes typed in the thread, and show the thread again where it was."""
    runtime = admin_runtime(request)
    conversation_id = _conversation_id(request)
    form = await request.form()
    notes = str(form.get("notes", ""))
    async with runtime.sessions() as session:
        conversation = await ConversationRepository(session).get_by_id(conversation_id)
        if conversation is None:
            raise HTTPException(status_code=404, detail=f"no conversation {conversation_id}")
        await ConversationRepository(session).set_notes(conversation, notes)
        await session.commit()
    url = request.url_for(THREAD_ROUTE, pk=str(conversation_id)).include_query_params(noted=1)
    return RedirectResponse(str(url) + "#notes", status_code=303)


async def live_events(request: Request) -> Response:
    """New changes as Server-Sent Events (of one conversation with `?conversation=`),
    from the reconnecting browser's Last-Event-ID or else from now."""
    runtime = admin_runtime(request)
    conversation = request.query_params.get("conversation", "")
    if conversation and not (conversation.isdigit() and int(conversation) <= MAX_ID):
        raise HTTPException(status_code=400, detail="conversation must be a conversation id")
    try:
        since = parse_last_event_id(request.headers.get("last-event-id"))
    except InvalidLastEventId as exc:
        raise HTTPException(status_code=400, detail=exc.detail) from None
    if since is None:
        since = await changes.last_id(runtime)
    feed = changes.stream(
        runtime, since, conversation_id=int(conversation) if conversation else None
    )
    return StreamingResponse(feed, media_type=EVENT_STREAM, headers=STREAM_HEADERS)


async def send_reply(view: ModelView, request: Request) -> Response:
    """Send the reply box's text; back to the thread, or the thread with what went wrong.

    An empty text, a closed 24-hour window, or any refusal of the send service (too
    long, Meta's error) is shown on the page with the draft kept and its 4xx/5xx status.
    """
    conversation_id = _conversation_id(request)
    runtime = admin_runtime(request)
    # One reading for the send and the page shown after it, so that they agree.
    now = runtime.clock()
    form = await request.form()
    body = str(form.get("body", "")).strip()
    if not body:
        return await _render(
            view,
            request,
            conversation_id,
            now=now,
            error="Write a message first.",
            status_code=400,
        )
    try:
        await send_text(runtime, conversation_id, body, now=now)
    except OutsideCustomerServiceWindow as exc:
        return await _render(
            view,
            request,
            conversation_id,
            now=now,
            error="Not sent: the 24-hour customer service window is closed. "
            f"WhatsApp lets a business send free text only within 24 hours of the customer's "
            f"last message ({exc.detail}).",
            draft=body,
            status_code=exc.status_code,
        )
    except DomainError as exc:
        return await _render(
            view,
            request,
            conversation_id,
            now=now,
            error=f"Not sent: {exc.detail}",
            draft=body,
            status_code=exc.status_code,
        )
    # Answering is reading, whatever the setting for opening says.
    await _mark_read(runtime, conversation_id, now)
    # Said on the page beside the reply box, not in a toast over it.
    url = request.url_for(THREAD_ROUTE, pk=str(conversation_id)).include_query_params(sent=1)
    return RedirectResponse(str(url), status_code=303)


async def send_template_reply(view: ModelView, request: Request) -> Response:
    """Send the template chosen in the picker, its parameters filled in from the form.

    Back to the thread, or the thread with what went wrong (and its status code): no
    template chosen, one that is no longer approved, a parameter left empty, or any
    refusal of the send service.
    """
    conversation_id = _conversation_id(request)
    runtime = admin_runtime(request)
    now = runtime.clock()
    form = await request.form()
    chosen = str(form.get("template", ""))
    values = [str(value).strip() for value in form.getlist("param")]
    name, _, language = chosen.partition("|")

    async def refused(message: str, status_code: int) -> Response:
        return await _render(
            view,
            request,
            conversation_id,
            now=now,
            error=f"Template not sent: {message}",
            chosen_template=chosen,
            status_code=status_code,
        )

    async with runtime.sessions() as session:
        template = await TemplateRepository(session).get(name, language) if name else None
    if template is None or template.status != APPROVED:
        return await refused("choose one of the approved templates.", 400)
    expected = slots(template.components or [])
    if len(values) != len(expected) or not all(values):
        return await refused("fill in every parameter.", 400)
    try:
        await send_template(
            runtime,
            conversation_id,
            template.name,
            template.language,
            components_for(expected, values),
            now=now,
        )
    except DomainError as exc:
        return await refused(exc.detail, exc.status_code)
    await _mark_read(runtime, conversation_id, now)
    url = request.url_for(THREAD_ROUTE, pk=str(conversation_id)).include_query_params(sent=1)
    return RedirectResponse(str(url), status_code=303)
