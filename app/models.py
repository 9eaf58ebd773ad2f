"""The tables. Names of the three WhatsApp tables follow the seed so its SQL runs unchanged."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, SafeJSON, SafeText, UTCDateTime, utcnow

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so autoincrementing) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The largest id both hold (signed 64-bit); larger input is refused, never sent to the driver.
MAX_ID = 2**63 - 1


class Direction:
    """Which way a message went."""

    INBOUND = "in"
    OUTBOUND = "out"


class MessageStatus:
    """Statuses of a message. Inbound: received → read. Outbound: Meta's statuses."""

    RECEIVED = "received"
    READ = "read"
    QUEUED = "queued"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    PLAYED = "played"
    FAILED = "failed"


# Outbound statuses only move forward; failed is terminal. Unknown statuses are kept in
# the status table but never applied to the message.
OUTBOUND_STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.ACCEPTED: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.PLAYED: 5,
    MessageStatus.FAILED: 6,
}


class MediaState:
    """Where a message's media file is."""

    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
    # Deleted when its retention time (RETENTION_MEDIA_DAYS) was over.
    EXPIRED = "expired"


class Conversation(Base):
    """One customer of one business number, with exact counters."""

    __tablename__ = "whatsapp_whatsappconversation"
    __table_args__ = (
        UniqueConstraint("phone_number_id", "phone_number"),
        UniqueConstraint("phone_number_id", "user_id"),
        Index("ix_conversation_last_message", "last_message_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone_number_id: Mapped[str] = mapped_column(String(64), default="")
    phone_number: Mapped[str | None] = mapped_column(String(32), index=True)
    user_id: Mapped[str | None] = mapped_column(String(128))
    contact_name: Mapped[str | None] = mapped_column(SafeText())
    notes: Mapped[str] = mapped_column(SafeText(), default="")
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    # Calls are counted apart from messages: a call is no message to read or answer.
    call_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(back_populates="conversation", lazy="raise")

    def __str__(self) -> str:
        return f"{self.contact_name or ''} {self.phone_number or self.user_id or ''}".strip()


class Message(Base):
    """A message, inbound or outbound, stored once per wamid."""

    __tablename__ = "whatsapp_whatsappmessage"
    __table_args__ = (
        Index("ix_message_timestamp_id", "timestamp", "id"),
        Index("ix_message_conversation_timestamp", "conversation_id", "timestamp", "id"),
        # Finds a number's messages, and answers the seed's analytics query (count and
        # latest message per from_number) from the index alone, without reading rows.
        Index("ix_message_from_number_timestamp", "from_number", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Looked up through ix_message_conversation_timestamp, whose first column it is.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("whatsapp_whatsappconversation.id", ondelete="SET NULL")
    )
    direction: Mapped[str] = mapped_column(String(3), default=Direction.INBOUND)
    phone_number_id: Mapped[str] = mapped_column(String(64), default="")
    from_number: Mapped[str | None] = mapped_column(String(32))
    from_name: Mapped[str | None] = mapped_column(SafeText())
    to_number: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(128))
    message_type: Mapped[str] = mapped_column(String(32), index=True)
    text_body: Mapped[str | None] = mapped_column(SafeText())
    media_id: Mapped[str | None] = mapped_column(String(255))
    media_url: Mapped[str | None] = mapped_column(String(1024))
    mime_type: Mapped[str | None] = mapped_column(String(255))
    caption: Mapped[str | None] = mapped_column(SafeText())
    filename: Mapped[str | None] = mapped_column(SafeText())
    media_sha256: Mapped[str | None] = mapped_column(String(128))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_state: Mapped[str | None] = mapped_column(String(16))
    media_error: Mapped[str | None] = mapped_column(SafeText())
    media_path: Mapped[str | None] = mapped_column(String(1024))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    location_name: Mapped[str | None] = mapped_column(SafeText())
    location_address: Mapped[str | None] = mapped_column(SafeText())
    context_message_id: Mapped[str | None] = mapped_column(String(255))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    errors: Mapped[Any | None] = mapped_column(SafeJSON())
    notes: Mapped[str] = mapped_column(SafeText(), default="")
    raw: Mapped[Any | None] = mapped_column(SafeJSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    conversation: Mapped[Conversation | None] = relationship(
        back_populates="messages", lazy="raise"
    )

    def __str__(self) -> str:
        return self.message_id


class MessageStatusUpdate(Base):
    """A status Meta reported for a message, stored once per (wamid, status)."""

    __tablename__ = "whatsapp_whatsappmessagestatus"
    # The unique (message_id, status) index also answers every lookup by message_id.
    __table_args__ = (UniqueConstraint("message_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    recipient_id: Mapped[str | None] = mapped_column(String(128))
    errors: Mapped[Any | None] = mapped_column(SafeJSON())
    pricing: Mapped[Any | None] = mapped_column(SafeJSON())
    conversation: Mapped[Any | None] = mapped_column(SafeJSON())
    raw: Mapped[Any | None] = mapped_column(SafeJSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __str__(self) -> str:
        return f"{self.message_id} {self.status}"


class CallStatus:
    """Where a call is: ringing or connected, then completed (answered) or missed."""

    RINGING = "ringing"
    CONNECTED = "connected"
    COMPLETED = "completed"
    MISSED = "missed"


class Call(Base):
    """A WhatsApp call with a customer, stored once per call id (Meta's `wacid`).

    Meta reports a call as several events (connect, terminate); each one updates the
    same row, in whatever order they arrive.
    """

    __tablename__ = "whatsapp_call"
    __table_args__ = (
        Index("ix_call_timestamp_id", "timestamp", "id"),
        Index("ix_call_conversation_timestamp", "conversation_id", "timestamp", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(255), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("whatsapp_whatsappconversation.id", ondelete="SET NULL")
    )
    phone_number_id: Mapped[str] = mapped_column(String(64), default="")
    phone_number: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.call_id


class MessageTemplate(Base):
    """A message template of the WhatsApp Business Account, as Meta last described it."""

    __tablename__ = "whatsapp_messagetemplate"
    __table_args__ = (UniqueConstraint("name", "language"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    template_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), index=True)
    quality_score: Mapped[str | None] = mapped_column(String(32))
    components: Mapped[Any] = mapped_column(SafeJSON(), default=list)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class WebhookEvent(Base):
    """The raw event log: every authentic webhook POST body, byte for byte, and its outcome.

    The body is kept as bytes, not as parsed JSON, so that a body the service could not
    read (not JSON, an odd encoding) is kept as exactly as one it could.
    """

    __tablename__ = "whatsapp_webhookevent"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    object: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[str | None] = mapped_column(String(255))
    raw_body: Mapped[bytes] = mapped_column(LargeBinary())
    stored_items: Mapped[int] = mapped_column(Integer, default=0)
    rejected_items: Mapped[int] = mapped_column(Integer, default=0)
    # [{"path": "entry.0.changes.0.value.messages.3", "reason": "..."}], or None.
    rejections: Mapped[Any | None] = mapped_column(SafeJSON())

    @property
    def body_text(self) -> str:
        """The body as text (undecodable bytes shown as U+FFFD), for people to read."""
        return self.raw_body.decode("utf-8", errors="replace")

    def readable_body(self) -> tuple[Any, str | None]:
        """The body as (JSON, None) when it is JSON, else as (None, its text)."""
        try:
            return json.loads(self.raw_body), None
        except ValueError:
            return None, self.body_text

    def __str__(self) -> str:
        return f"event {self.id} ({self.fields})"


class JobState:
    """Life of a background job."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"
    # A run began a call that must not be repeated unseen (a send) and its answer was
    # never recorded: the job stops until a person chooses to run it again.
    UNCERTAIN = "uncertain"


class Job(Base):
    """A unit of background work (the outbox), written with the change that caused it."""

    __tablename__ = "whatsapp_job"
    __table_args__ = (Index("ix_job_claim", "state", "run_after", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[Any] = mapped_column(SafeJSON(), default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(SafeText())
    result: Mapped[Any | None] = mapped_column(SafeJSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set (and committed) before a run calls Meta to send; a run that finds it set does
    # not send again. Cleared when Meta refused, or when a person chooses "send again".
    call_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __str__(self) -> str:
        return f"job {self.id} {self.kind}"


class IdempotencyKey(Base):
    """The first answer to a send request, replayed when the same key comes again."""

    __tablename__ = "whatsapp_idempotencykey"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[Any | None] = mapped_column(SafeJSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AdminSession(Base):
    """A logged-in admin session, kept server side so that logging out ends it for good.

    The browser's cookie holds only a random token; its SHA-256 is stored here. The
    fingerprint of the password hash the login was made with ends the session as soon
    as the password changes.
    """

    __tablename__ = "whatsapp_adminsession"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(255))
    password_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AutoReplyLog(Base):
    """When a rule last answered a conversation, for its cooldown."""

    __tablename__ = "whatsapp_autoreplylog"
    __table_args__ = (UniqueConstraint("conversation_id", "rule"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("whatsapp_whatsappconversation.id", ondelete="CASCADE")
    )
    rule: Mapped[str] = mapped_column(String(32))
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChangeEvent(Base):
    """A change that matters to other services (a message received, a status, …), written
    in the transaction of the change itself. Ids ascend in commit order (see
    app.changes.repository), so a reader that remembers the last id it saw misses nothing.
    """

    __tablename__ = "change_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[Any] = mapped_column(SafeJSON())

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Subscription(Base):
    """An internal service that receives events as signed POSTs to its URL."""

    __tablename__ = "change_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[Any] = mapped_column(SafeJSON())
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(SafeText(), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The last event looked at for this subscription (its position in the stream).
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __str__(self) -> str:
        return f"subscription {self.id} {self.url}"


class DeliveryState:
    """Life of one event's delivery to one subscription."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class SubscriptionDelivery(Base):
    """One event for one subscription: the delivery log, one row per event and subscriber."""

    __tablename__ = "change_deliveries"
    __table_args__ = (
        Index("ix_change_deliveries_lane", "subscription_id", "conversation_id", "state", "id"),
        Index("ix_change_deliveries_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("change_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(SafeText())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
