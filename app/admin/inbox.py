"""The inbox made for people: the conversation list's last message, unread badge and
filter, and a message's details grouped by what people look for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from sqladmin._types import _UNSET
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.admin.base import business_zone, format_time, pretty_json, short_time, shorten
from app.admin.media import has_media, media_markup
from app.admin.repository import AdminRepository
from app.admin.thread import THREAD_ROUTE, admin_runtime, error_text
from app.business_numbers import is_number_name
from app.models import Conversation, Direction, Message

# Set on each listed conversation by attach_last_messages.
LAST_MESSAGE = "inbox_last_message"
PREVIEW_LENGTH = 70


class UnreadFilter:
    """The list filter "Unread": conversations with messages nobody has read."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    default_value: Any = _UNSET
    parameter_name = "unread"
    title = "Unread"

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        """All, or only the unread ones."""
        return [("__all", "All"), ("yes", "Unread only")]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        """`query` keeping the unread conversations for `yes`; a 400 for anything else."""
        if value == "__all":
            return query
        if value != "yes":
            raise HTTPException(status_code=400, detail="unread must be yes or __all")
        return query.where(Conversation.unread_count > 0)


class BusinessNumberFilter:
    """The list filter "Business number": the rows of one of the business's numbers."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    default_value: Any = _UNSET
    parameter_name = "number"
    title = "Business number"

    def __init__(self, column: Any) -> None:
        self.column = column

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        """All, or each configured number by its label and display number."""
        numbers = admin_runtime(request).settings.whatsapp_phone_numbers
        return [("__all", "All"), *((number.id, number.name) for number in numbers)]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        """`query` keeping the rows of the number whose phone_number_id is `value`."""
        if value == "__all":
            return query
        if not is_number_name(value):
            raise HTTPException(status_code=400, detail="number must be a phone_number_id")
        return query.where(self.column == value)


async def attach_last_messages(session: AsyncSession, conversations: Sequence[Any]) -> None:
    """Give each listed conversation its newest message (one query for the page)."""
    latest = await AdminRepository(session).latest_messages([c.id for c in conversations])
    for conversation in conversations:
        setattr(conversation, LAST_MESSAGE, latest.get(conversation.id))


def message_summary(message: Message) -> str:
    """What a message says, in a line: its text, caption, place or file, else its type."""
    text = (
        message.text_body
        or message.caption
        or message.location_name
        or message.location_address
        or message.filename
    )
    return shorten(text, PREVIEW_LENGTH) if text else f"[{message.message_type}]"


def contact_cell(model: Any, _attribute: Any) -> Markup:
    """The contact's name over their number."""
    name = model.contact_name or "Unknown contact"
    number = model.phone_number or model.user_id or ""
    return Markup('<div class="{}">{}</div><div class="text-muted small">{}</div>').format(
        "inbox-unread" if model.unread_count else "", name, number
    )


def last_message_cell(model: Any, _attribute: Any) -> Markup:
    """The last message: which way it went and what it says."""
    message: Message | None = getattr(model, LAST_MESSAGE, None)
    if message is None:
        return Markup('<span class="text-muted">No messages yet</span>')
    arrow = "←" if message.direction == Direction.INBOUND else "→ You:"
    return Markup(
        '<span class="inbox-preview"><span class="inbox-preview-direction" title="{}">{}</span>'
        "{}</span>"
    ).format(
        "Received" if message.direction == Direction.INBOUND else "Sent",
        arrow,
        message_summary(message),
    )


def last_time_cell(model: Any, _attribute: Any, request: Request) -> Markup:
    """When the last message was, short, with the full time on hover."""
    zone = business_zone(request)
    now = admin_runtime(request).clock()
    return Markup('<span title="{}">{}</span>').format(
        format_time(model.last_message_at, zone), short_time(model.last_message_at, zone, now)
    )


def unread_badge(model: Any, _attribute: Any) -> Markup:
    """How many messages are unread, as a badge; nothing when none are."""
    if not model.unread_count:
        return Markup("")
    return Markup('<span class="badge bg-green text-white inbox-unread-badge">{}</span>').format(
        model.unread_count
    )


def _fields(*pairs: tuple[str, Any]) -> list[tuple[str, Any]]:
    """The pairs whose value says something (empty ones are left out)."""
    return [(label, value) for label, value in pairs if value not in (None, "", [], {})]


def _sections(request: Request, message: Message) -> list[dict[str, Any]]:
    zone = business_zone(request)
    inbound = message.direction == Direction.INBOUND
    location = None
    if message.latitude is not None and message.longitude is not None:
        location = f"{message.latitude}, {message.longitude}"
    sections = [
        {
            "key": "who",
            "title": "Who",
            "fields": _fields(
                ("Direction", "Received from the customer" if inbound else "Sent by us"),
                ("From", " ".join(filter(None, [message.from_name, message.from_number]))),
                ("To", message.to_number),
                ("Customer user id", message.user_id),
                ("Business number id", message.phone_number_id),
            ),
        },
        {
            "key": "what",
            "title": "What",
            "fields": _fields(
                ("Type", message.message_type),
                ("Time", format_time(message.timestamp, zone)),
                ("Text", message.text_body),
                ("Caption", message.caption),
                ("Place", message.location_name),
                ("Address", message.location_address),
                ("Coordinates", location),
                ("In reply to", message.context_message_id),
                ("WhatsApp id", message.message_id),
                ("Notes", message.notes),
            ),
        },
        {
            "key": "media",
            "title": "Media",
            "fields": _fields(
                ("File", media_markup(request, message) if has_media(message) else None),
                ("Name", message.filename if has_media(message) else None),
                ("Kind", message.mime_type),
                ("Size", f"{message.media_size:,} bytes" if message.media_size else None),
                ("State", message.media_state),
                ("Error", message.media_error),
                ("SHA-256", message.media_sha256),
                ("Meta media id", message.media_id),
            ),
        },
        {
            "key": "status",
            "title": "Status",
            "fields": _fields(
                ("Status", message.status),
                ("Since", format_time(message.status_at, zone)),
                ("Errors", error_text(message.errors) or None),
            ),
        },
    ]
    return [section for section in sections if section["fields"]]


async def message_details_context(request: Request) -> dict[str, Any]:
    """The details page of the message named by the path's pk, grouped for people."""
    pk = str(request.path_params.get("pk", ""))
    if not pk.isdigit():
        raise HTTPException(status_code=404, detail=f"no message with id {pk!r}")
    async with admin_runtime(request).sessions() as session:
        message = await session.get(Message, int(pk))
        if message is None:
            raise HTTPException(status_code=404, detail=f"no message with id {pk!r}")
        statuses = await AdminRepository(session).statuses_by_message([message.message_id])
    zone = business_zone(request)
    who = (
        message.from_name or message.from_number if message.direction == Direction.INBOUND else None
    )
    heading = f"Message from {who}" if who else f"Message to {message.to_number or 'the customer'}"
    details_url = request.url_for("admin:details", identity="message", pk=pk)
    note_url = request.url_for("admin:edit", identity="message", pk=pk).include_query_params(
        next=details_url.path
    )
    thread_url = (
        str(request.url_for(THREAD_ROUTE, pk=str(message.conversation_id)))
        if message.conversation_id is not None
        else None
    )
    return {
        "heading": heading,
        "sections": _sections(request, message),
        "history": [
            {
                "status": s.status,
                "time": format_time(s.timestamp, zone),
                "recipient": s.recipient_id or "",
                "errors": error_text(s.errors),
            }
            for s in statuses.get(message.message_id, [])
        ],
        "raw": pretty_json(message.raw),
        "thread_url": thread_url,
        "note_url": str(note_url),
    }
