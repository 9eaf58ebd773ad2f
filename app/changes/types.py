"""The kinds of change event; each is written in the transaction of its change."""

from __future__ import annotations

from enum import StrEnum


class ChangeType(StrEnum):
    """What an event says happened."""

    MESSAGE_RECEIVED = "message.received"
    MESSAGE_SENT = "message.sent"
    MESSAGE_STATUS = "message.status"
    CONVERSATION_READ = "conversation.read"
    MEDIA_STORED = "media.stored"
    CALL_RECEIVED = "call.received"
    JOB_DEAD = "job.dead"


CHANGE_TYPES = tuple(t.value for t in ChangeType)
