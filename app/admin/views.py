"""The admin's pages for each table: what is listed, searched, filtered and editable.

Only notes are editable; nothing is created or deleted here. Messages, conversations,
statuses, jobs and the raw event log are readable by everyone who can log in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from markupsafe import Markup
from sqladmin import Flash, action, expose
from sqladmin._types import COLUMN_FORMATTER_TYPE, MODEL_ATTR, ColumnFilter
from sqladmin.filters import StaticValuesFilter
from sqlalchemy import Select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.admin.base import (
    DateBoundFilter,
    InboxModelView,
    business_zone,
    format_time,
    pretty_json,
    shorten,
)
from app.admin.inbox import (
    BusinessNumberFilter,
    UnreadFilter,
    attach_last_messages,
    contact_cell,
    last_message_cell,
    last_time_cell,
    message_details_context,
    unread_badge,
)
from app.admin.media import media_markup, media_response
from app.admin.repository import AdminRepository
from app.admin.thread import (
    THREAD_ROUTE,
    admin_runtime,
    live_events,
    save_conversation_notes,
    send_reply,
    send_template_reply,
    thread_items,
    thread_page,
)
from app.events.exceptions import EventNotFound
from app.events.replay import replay_event
from app.jobs import kinds
from app.jobs.exceptions import JobNotFound, JobNotRetryable, JobNotUncertain
from app.jobs.service import retry_job, send_again
from app.messages.service import mark_read
from app.models import (
    Conversation,
    Direction,
    Job,
    JobState,
    Message,
    MessageStatus,
    MessageStatusUpdate,
    WebhookEvent,
)

MESSAGE_TYPES = [
    (name, name)
    for name in (
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "button",
        "reaction",
        "order",
        "template",
        "system",
        "unsupported",
    )
]
DIRECTIONS = [(Direction.INBOUND, "Inbound"), (Direction.OUTBOUND, "Outbound")]
MESSAGE_STATUSES = [
    (status, status)
    for status in (
        MessageStatus.RECEIVED,
        MessageStatus.READ,
        MessageStatus.QUEUED,
        MessageStatus.ACCEPTED,
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.PLAYED,
        MessageStatus.FAILED,
    )
]
Formatters = dict[MODEL_ATTR, COLUMN_FORMATTER_TYPE]
# A jobs service function that queues one job again (retry, send again).
Requeue = Callable[..., Awaitable[Job]]

JOB_STATES = [
    (s, s)
    for s in (
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.DONE,
        JobState.DEAD,
        JobState.UNCERTAIN,
    )
]
JOB_KINDS = [
    (k, k)
    for k in (
        kinds.MEDIA_DOWNLOAD,
        kinds.SEND_MESSAGE,
        kinds.READ_RECEIPT,
        kinds.AUTO_REPLY,
        kinds.TEMPLATE_SYNC,
        kinds.SUBSCRIPTION_DELIVERY,
    )
]


def _columns(model: Any) -> list[str]:
    return [column.key for column in model.__table__.columns]


def _selected_ids(request: Request) -> list[int]:
    """The row ids an action was started on (`pks=1,2,3`), or a 400 saying what is wrong."""
    parts = [part.strip() for part in request.query_params.get("pks", "").split(",")]
    parts = [part for part in parts if part]
    if not parts:
        raise HTTPException(status_code=400, detail="Select at least one row first.")
    if not all(part.isdigit() for part in parts):
        raise HTTPException(status_code=400, detail="pks must be row ids separated by commas")
    return [int(part) for part in parts]


def _back(request: Request, identity: str) -> RedirectResponse:
    """Back to the admin page the action was started from, else to the list."""
    referer = request.headers.get("referer", "")
    if referer.startswith(str(request.url_for("admin:index"))):
        return RedirectResponse(referer, status_code=303)
    return RedirectResponse(request.url_for("admin:list", identity=identity), status_code=303)


def _thread_link(model: Any, _attribute: str, request: Request) -> Markup:
    conversation_id = model.id if isinstance(model, Conversation) else model.conversation_id
    if conversation_id is None:
        return Markup("")
    url = request.url_for(THREAD_ROUTE, pk=str(conversation_id))
    return Markup('<a class="inbox-thread-link" href="{}">Open thread</a>').format(url)


def _business_number(model: Any, _attribute: str, request: Request) -> str:
    """The business number's label and number as configured (its id if unknown)."""
    return admin_runtime(request).settings.number_named(model.phone_number_id).name


def _business_number_detail(model: Any, attribute: str, request: Request) -> str:
    """The business number's name and its phone_number_id."""
    name = _business_number(model, attribute, request)
    return name if name == model.phone_number_id else f"{name} ({model.phone_number_id})"


def _customer(model: Any, _attribute: str) -> str:
    """The customer's number, or their business-scoped user id when Meta withholds it."""
    number = model.from_number if isinstance(model, Message) else model.phone_number
    return str(number or model.user_id or "")


def _direction(model: Any, _attribute: str) -> str:
    return "← in" if model.direction == Direction.INBOUND else "→ out"


def _media(model: Any, _attribute: str, request: Request) -> Markup:
    return media_markup(request, model)


def _time_of(name: str) -> Callable[[Any, Any, Request], str]:
    return lambda model, _attribute, request: format_time(
        getattr(model, name), business_zone(request)
    )


def _json_of(name: str) -> Callable[[Any, Any], Markup]:
    return lambda model, _attribute: pretty_json(getattr(model, name))


class MessageAdmin(InboxModelView, model=Message):
    """Messages, newest first: search, filters, details with media, notes, mark read."""

    name = "Message"
    name_plural = "Messages"
    icon = "fa-solid fa-comments"
    details_template = "inbox/message_details.html"

    column_list: ClassVar[list[MODEL_ATTR]] = [
        "from_number",
        "from_name",
        "message_type",
        "text_body",
        "timestamp",
        "direction",
        "status",
    ]
    column_labels: ClassVar[dict[MODEL_ATTR, str]] = {
        "from_number": "From",
        "from_name": "Name",
        "message_type": "Type",
        "text_body": "Text or caption",
        "timestamp": "Time",
        "direction": "Direction",
        "status": "Status",
        "media": "Media",
        "thread": "Thread",
    }
    column_formatters: ClassVar[Formatters] = {
        "from_number": _customer,
        "text_body": lambda m, _a: shorten(
            m.text_body or m.caption or m.location_name or m.location_address or m.filename
        ),
        "timestamp": _time_of("timestamp"),
        "direction": _direction,
    }
    column_searchable_list: ClassVar[list[MODEL_ATTR]] = [
        "from_number",
        "to_number",
        "user_id",
        "from_name",
        "text_body",
        "caption",
    ]
    column_filters: ClassVar[list[ColumnFilter]] = [
        DateBoundFilter(Message.timestamp, end=False, title="From day", parameter_name="date_from"),
        DateBoundFilter(Message.timestamp, end=True, title="To day", parameter_name="date_to"),
        StaticValuesFilter(Message.message_type, MESSAGE_TYPES, title="Type"),
        StaticValuesFilter(Message.direction, DIRECTIONS, title="Direction"),
        StaticValuesFilter(Message.status, MESSAGE_STATUSES, title="Status"),
        BusinessNumberFilter(Message.phone_number_id),
    ]
    column_sortable_list: ClassVar[list[MODEL_ATTR]] = ["timestamp"]
    column_default_sort: ClassVar[list[tuple[str, bool]]] = [("timestamp", True), ("id", True)]

    column_details_list: ClassVar[list[MODEL_ATTR]] = [
        "media",
        "thread",
        *_columns(Message),
        "conversation",
    ]
    column_formatters_detail: ClassVar[Formatters] = {
        "media": _media,
        "thread": _thread_link,
        "raw": _json_of("raw"),
        "errors": _json_of("errors"),
        "timestamp": _time_of("timestamp"),
        "status_at": _time_of("status_at"),
        "created_at": _time_of("created_at"),
    }
    form_columns: ClassVar[list[MODEL_ATTR]] = ["notes"]

    async def details_context(self, request: Request) -> dict[str, Any]:
        """The message's fields grouped for people, its status history and its media."""
        return await message_details_context(request)

    @action(name="mark-read", label="Mark as read")
    async def mark_selected_read(self, request: Request) -> Response:
        """Mark the selected inbound messages read through the messages service."""
        ids = _selected_ids(request)
        runtime = admin_runtime(request)
        async with runtime.sessions() as session:
            message_ids = await AdminRepository(session).message_ids_for(ids)
            if not message_ids:
                raise HTTPException(status_code=404, detail="None of the selected messages exist.")
            result = await mark_read(
                session, runtime.settings, now=runtime.clock(), message_ids=message_ids
            )
            await session.commit()
        Flash.success(request, f"Marked {result.marked} of {len(message_ids)} as read.")
        return _back(request, self.identity)

    @expose("/media/{pk}", methods=["GET"])
    async def media(self, request: Request) -> Response:
        """The message's stored file, for the logged-in admin only."""
        return await media_response(request, admin_runtime(request))


class ConversationAdmin(InboxModelView, model=Conversation):
    """Conversations, latest activity first, each with its thread."""

    name = "Conversation"
    name_plural = "Conversations"
    icon = "fa-solid fa-address-book"
    details_template = "inbox/details.html"
    list_template = "inbox/conversation_list.html"

    column_list: ClassVar[list[MODEL_ATTR]] = [
        "contact_name",
        "preview",
        "phone_number_id",
        "call_count",
        "last_message_at",
        "unread_count",
        "thread",
    ]
    column_labels: ClassVar[dict[MODEL_ATTR, str]] = {
        "contact_name": "Contact",
        "preview": "Last message",
        "phone_number": "Number",
        "phone_number_id": "Business number",
        "message_count": "Messages",
        "unread_count": "Unread",
        "call_count": "Calls",
        "last_message_at": "Last activity",
        "thread": "Thread",
    }
    column_formatters: ClassVar[Formatters] = {
        "contact_name": contact_cell,
        "preview": last_message_cell,
        "phone_number_id": _business_number,
        "last_message_at": last_time_cell,
        "unread_count": unread_badge,
        "thread": _thread_link,
    }
    column_filters: ClassVar[list[ColumnFilter]] = [
        UnreadFilter(),
        BusinessNumberFilter(Conversation.phone_number_id),
    ]
    column_searchable_list: ClassVar[list[MODEL_ATTR]] = ["contact_name", "phone_number", "user_id"]
    column_sortable_list: ClassVar[list[MODEL_ATTR]] = [
        "last_message_at",
        "unread_count",
        "message_count",
    ]
    column_default_sort: ClassVar[list[tuple[str, bool]]] = [
        ("last_message_at", True),
        ("id", True),
    ]
    column_details_list: ClassVar[list[MODEL_ATTR]] = ["thread", *_columns(Conversation)]
    column_formatters_detail: ClassVar[Formatters] = {
        "thread": _thread_link,
        "phone_number_id": _business_number_detail,
        "last_message_at": _time_of("last_message_at"),
        "last_inbound_at": _time_of("last_inbound_at"),
        "created_at": _time_of("created_at"),
        "updated_at": _time_of("updated_at"),
    }
    form_columns: ClassVar[list[MODEL_ATTR]] = ["notes"]

    async def list(self, request: Request) -> Any:
        """A page of conversations, each with its last message for the preview."""
        pagination = await super().list(request)
        async with admin_runtime(request).sessions() as session:
            await attach_last_messages(session, pagination.rows)
        return pagination

    @expose("/thread/{pk}", methods=["GET"])
    async def thread(self, request: Request) -> Response:
        """The conversation as a chat, with the reply box."""
        return await thread_page(self, request)

    @expose("/thread/{pk}/items", methods=["GET"])
    async def thread_items(self, request: Request) -> Response:
        """The newest messages of the thread, for the open page to show what arrived."""
        return await thread_items(self, request)

    @expose("/thread/{pk}/notes", methods=["POST"])
    async def notes(self, request: Request) -> Response:
        """Save the conversation's notes from the thread, and stay in the thread."""
        return await save_conversation_notes(request)

    @expose("/live", methods=["GET"])
    async def live(self, request: Request) -> Response:
        """Server-Sent Events of new changes, for the open list or thread."""
        return await live_events(request)

    @expose("/thread/{pk}/reply", methods=["POST"])
    async def reply(self, request: Request) -> Response:
        """Send the reply box's text to the customer."""
        return await send_reply(self, request)

    @expose("/thread/{pk}/template", methods=["POST"])
    async def send_template(self, request: Request) -> Response:
        """Send the template chosen in the picker to the customer."""
        return await send_template_reply(self, request)


class ReadOnlyView(InboxModelView):
    """A table people read but never change from the admin."""

    can_edit = False


class StatusUpdateAdmin(ReadOnlyView, model=MessageStatusUpdate):
    """Every status Meta reported, newest first."""

    name = "Status update"
    name_plural = "Status updates"
    icon = "fa-solid fa-check-double"

    column_list: ClassVar[list[MODEL_ATTR]] = ["message_id", "status", "timestamp", "recipient_id"]
    column_formatters: ClassVar[Formatters] = {"timestamp": _time_of("timestamp")}
    column_searchable_list: ClassVar[list[MODEL_ATTR]] = ["message_id", "recipient_id"]
    column_filters: ClassVar[list[ColumnFilter]] = [
        StaticValuesFilter(MessageStatusUpdate.status, MESSAGE_STATUSES, title="Status"),
    ]
    column_default_sort: ClassVar[list[tuple[str, bool]]] = [("id", True)]
    column_formatters_detail: ClassVar[Formatters] = {
        "timestamp": _time_of("timestamp"),
        "created_at": _time_of("created_at"),
        "errors": _json_of("errors"),
        "pricing": _json_of("pricing"),
        "conversation": _json_of("conversation"),
        "raw": _json_of("raw"),
    }


class JobAdmin(ReadOnlyView, model=Job):
    """Background jobs, newest first, with their last error and a retry action."""

    name = "Job"
    name_plural = "Jobs"
    icon = "fa-solid fa-gears"

    column_list: ClassVar[list[MODEL_ATTR]] = [
        "id",
        "kind",
        "state",
        "attempts",
        "run_after",
        "last_error",
        "updated_at",
    ]
    column_formatters: ClassVar[Formatters] = {
        "run_after": _time_of("run_after"),
        "updated_at": _time_of("updated_at"),
        "last_error": lambda m, _a: shorten(m.last_error, 60),
    }
    column_filters: ClassVar[list[ColumnFilter]] = [
        StaticValuesFilter(Job.state, JOB_STATES, title="State"),
        StaticValuesFilter(Job.kind, JOB_KINDS, title="Kind"),
    ]
    column_default_sort: ClassVar[list[tuple[str, bool]]] = [("id", True)]
    column_formatters_detail: ClassVar[Formatters] = {
        "payload": _json_of("payload"),
        "result": _json_of("result"),
        "run_after": _time_of("run_after"),
        "locked_until": _time_of("locked_until"),
        "created_at": _time_of("created_at"),
        "updated_at": _time_of("updated_at"),
        "finished_at": _time_of("finished_at"),
    }

    @action(name="retry", label="Retry now")
    async def retry_selected(self, request: Request) -> Response:
        """Queue the selected dead (or waiting) jobs to run now, through the jobs service."""
        return await self._requeue(request, retry_job, "Queued to run now")

    @action(
        name="send-again",
        label="Send again",
        confirmation_message="These sends may already have reached the customer: "
        "send them again anyway?",
    )
    async def send_again_selected(self, request: Request) -> Response:
        """Queue the selected uncertain sends to send again: a person's choice, since each
        may already have reached its customer."""
        return await self._requeue(request, send_again, "Queued to send again")

    async def _requeue(self, request: Request, requeue: Requeue, done: str) -> Response:
        ids = _selected_ids(request)
        queued: list[str] = []
        refused: list[str] = []
        runtime = admin_runtime(request)
        now = runtime.clock()
        async with runtime.sessions() as session:
            for job_id in ids:
                try:
                    await requeue(session, job_id, now=now)
                except (JobNotFound, JobNotRetryable, JobNotUncertain) as exc:
                    refused.append(exc.detail)
                else:
                    queued.append(str(job_id))
            await session.commit()
        if queued:
            Flash.success(request, f"{done}: job {', '.join(queued)}.")
        if refused:
            Flash.error(request, " ".join(f"{reason}." for reason in refused))
        return _back(request, self.identity)


def _body_of(model: Any, _attribute: Any) -> Markup:
    """A logged body: indented JSON when it is JSON, else its text as received."""
    event: WebhookEvent = model
    body, text = event.readable_body()
    if text is None:
        return pretty_json(body)
    return Markup('<pre class="inbox-json">{}</pre>').format(text)


class RejectedItemsFilter:
    """Events with rejected items (an odd item, or a body that was no webhook), or without."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    default_value: Any = None
    title = "Rejected items"
    parameter_name = "rejected"

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        """The choices: all events, those with rejected items, those without."""
        return [("all", "All"), ("true", "Some rejected"), ("false", "All stored")]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        """`query` kept to the chosen events; any other value leaves it whole."""
        if value == "true":
            return query.where(WebhookEvent.rejected_items > 0)
        if value == "false":
            return query.where(WebhookEvent.rejected_items == 0)
        return query


class WebhookEventAdmin(ReadOnlyView, model=WebhookEvent):
    """The raw event log: every authentic webhook body as received, and what it stored."""

    name = "Webhook event"
    name_plural = "Webhook events"
    icon = "fa-solid fa-inbox"

    column_list: ClassVar[list[MODEL_ATTR]] = [
        "id",
        "received_at",
        "object",
        "fields",
        "stored_items",
        "rejected_items",
    ]
    column_labels: ClassVar[dict[MODEL_ATTR, str]] = {
        "stored_items": "Stored",
        "rejected_items": "Rejected",
        "raw_body": "Body",
    }
    column_formatters: ClassVar[Formatters] = {"received_at": _time_of("received_at")}
    column_searchable_list: ClassVar[list[MODEL_ATTR]] = ["fields"]
    column_filters: ClassVar[list[ColumnFilter]] = [RejectedItemsFilter()]
    column_default_sort: ClassVar[list[tuple[str, bool]]] = [("id", True)]
    column_formatters_detail: ClassVar[Formatters] = {
        "received_at": _time_of("received_at"),
        "raw_body": _body_of,
        "rejections": _json_of("rejections"),
    }

    @action(
        name="replay",
        label="Replay",
        confirmation_message="Run the selected events through ingestion again? What is "
        "already stored stays as it is; only what was not stored is added.",
    )
    async def replay_selected(self, request: Request) -> Response:
        """Run the selected events through today's ingestion again (idempotent)."""
        ids = _selected_ids(request)
        runtime = admin_runtime(request)
        for event_id in ids:
            try:
                replayed = await replay_event(runtime, event_id)
            except EventNotFound as exc:
                Flash.error(request, f"{exc.detail}.")
                continue
            still = (
                "it is still not a WhatsApp webhook"
                if replayed.refused
                else f"{replayed.rejected_items} items still rejected"
            )
            Flash.success(
                request,
                f"Replayed event {event_id}: {replayed.new_messages} new messages, "
                f"{replayed.new_statuses} new statuses; {still}.",
            )
        return _back(request, self.identity)


VIEWS: tuple[type[InboxModelView], ...] = (
    ConversationAdmin,
    MessageAdmin,
    StatusUpdateAdmin,
    JobAdmin,
    WebhookEventAdmin,
)
