"""Errors of the conversations domain, mapped to HTTP by app.errors."""

from __future__ import annotations

from app.errors import NotFound


class ConversationNotFound(NotFound):
    """No conversation has this id or customer number."""

    @classmethod
    def by_id(cls, conversation_id: int) -> ConversationNotFound:
        """No conversation has this id."""
        return cls(f"no conversation with id {conversation_id}")

    @classmethod
    def by_phone_number(cls, phone_number: str) -> ConversationNotFound:
        """No conversation has this customer number."""
        return cls(f"no conversation with phone_number {phone_number!r}")
